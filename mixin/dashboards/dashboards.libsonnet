// grafanaDashboards: file name -> dashboard object, as mixin tooling (and mixin/generate.sh)
// expects.
{
  grafanaDashboards+:: {
    'skew-exporter.json': (import 'skew-exporter.libsonnet')($._config),
  },
}
