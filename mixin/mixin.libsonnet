// skew-exporter's monitoring mixin: alerts, recording rules and the Grafana dashboard, with
// what users set in _config (config.libsonnet). The model is node-mixin: import this file,
// override _config, and render prometheusAlerts, prometheusRules and grafanaDashboards (see
// the README, "The monitoring mixin").
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
