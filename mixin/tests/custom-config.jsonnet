// The _config of mixin/tests/custom-config.test.yml: what a user with another job name and a
// looser drift limit would write. tests/mixin.rs passes it to mixin/render.jsonnet.
{
  skewExporterSelector: 'job="time-skew"',
  clockDriftCriticalSeconds: 0.2,
  runbookURLPattern: 'https://runbooks.example/skew-exporter/%s',
}
