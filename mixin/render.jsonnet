// The mixin as the files this repository ships: {path: content}, where content is the value
// (rule groups, PrometheusRule, dashboard) that mixin/generate.sh writes as YAML or JSON, and
// that tests/mixin.rs compares with the checked-in files. `config` (a top-level argument)
// overrides _config:
//   jsonnet -J mixin --tla-code 'config={clockDriftCriticalSeconds: 0.2}' mixin/render.jsonnet
function(config={})
  local m = (import 'mixin.libsonnet') + { _config+:: config };
  {
    'alerts/skew-exporter.rules.yml': m.prometheusAlerts,
    'alerts/skew-exporter.recording.rules.yml': m.prometheusRules,
    'examples/kubernetes/prometheusrule.yaml': {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: {
        name: 'skew-exporter',
        labels: { 'app.kubernetes.io/name': 'skew-exporter' },
      },
      // The groups of alerts/*.rules.yml in file-name order.
      spec: { groups: m.prometheusRules.groups + m.prometheusAlerts.groups },
    },
  } + {
    ['dashboards/' + name]: m.grafanaDashboards[name]
    for name in std.objectFields(m.grafanaDashboards)
  }
