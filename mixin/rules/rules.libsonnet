// The recording rules: prometheusRules, rendered to alerts/skew-exporter.recording.rules.yml by
// mixin/generate.sh (do not edit that file; edit this one and run the script).
// Prometheus recording rules for a fleet of skew-exporters (one exporter per host).
//
// docs/fleet.md explains each rule, what sums across instances and what does not, and the
// test that proves the sums (tests/fleet.rs). Tests: alerts/tests/skew-exporter.recording.test.yml
// (run alerts/check.sh). The alerts live in alerts/alerts.libsonnet; nothing here changes them.
//
// Naming: level:metric:operations (https://prometheus.io/docs/practices/rules/). The level
// lists the labels the result keeps; `_total` is dropped once rate() has been applied.
//
// Grouping: every rule aggregates `by (cluster, ...)`. The exporter never sets `cluster`: it is
// a target label (relabelling, static_configs `labels:`) or an external label of a Prometheus
// per cluster below Thanos or Mimir. Where no series carries it, `by (cluster)` puts every
// series into one group and the results simply have no `cluster` label, so these rules work
// unchanged on a single-cluster Prometheus. To group by another label (env, region, ...),
// replace `cluster` in every `by (...)` and in the level part of every `record:` name.
//
// What must not be summed across instances:
// - NTP offsets are per host (each host's own clock): the fleet view is the worst one, max of
//   the absolute value, plus the signed extremes. Summing or averaging offsets hides a bad host.
// - The issuer lead is a per-verifier gauge (a lower bound of issuer clock minus that
//   verifier's clock): max and min across verifiers, never sum or avg.
// - Counters and histogram buckets sum: rate() first, per series, then sum (never the reverse,
//   or a restart of one exporter reads as a reset of the whole sum).
// - skew_jwt_age_seconds_sum can go down (negative ages), so no rate()/increase() of it here:
//   quantiles come from the buckets.
{
  prometheusRules+:: {
    groups+: [
      {
        name: 'skew-exporter-fleet',
        rules: [
          // ------------------------------------------------------------------------------------
          // Clock: the system offset of each host (absent on a host without an NTP majority,
          // which NtpNoMajority reports); the worst host per cluster.
          // ------------------------------------------------------------------------------------
          //
          // The largest absolute offset in the cluster, whatever its sign.
          {
            record: 'cluster:skew_ntp_system_offset_seconds:max_abs',
            expr: |||
              max by (cluster) (abs(skew_ntp_system_offset_seconds))
            |||,
          },
          // The signed extremes: the host whose clock is furthest behind (largest positive offset)
          // and furthest ahead (most negative offset).
          {
            record: 'cluster:skew_ntp_system_offset_seconds:max',
            expr: |||
              max by (cluster) (skew_ntp_system_offset_seconds)
            |||,
          },
          {
            record: 'cluster:skew_ntp_system_offset_seconds:min',
            expr: |||
              min by (cluster) (skew_ntp_system_offset_seconds)
            |||,
          },
          // ------------------------------------------------------------------------------------
          // Tokens: verifications and rejections across sources, issuers and instances.
          // ------------------------------------------------------------------------------------
          {
            record: 'cluster_outcome:skew_jwt_verifications:rate5m',
            expr: |||
              sum by (cluster, outcome) (rate(skew_jwt_verifications_total[5m]))
            |||,
          },
          {
            record: 'cluster_reason:skew_jwt_rejections:rate5m',
            expr: |||
              sum by (cluster, reason) (rate(skew_jwt_rejections_total[5m]))
            |||,
          },
          // The share of all verifications in the cluster rejected for each reason.
          {
            record: 'cluster_reason:skew_jwt_rejections_per_verifications:ratio_rate5m',
            expr: |||
              cluster_reason:skew_jwt_rejections:rate5m
              / ignoring (reason) group_left
              sum without (outcome) (cluster_outcome:skew_jwt_verifications:rate5m)
            |||,
          },
          // Token age across the fleet: the bucket rates summed over instances and sources (the
          // only correct way to get a fleet quantile; averaging per-instance quantiles is not), then
          // the quantiles of the sum. The 1st percentile of accepted tokens is what
          // JwtVerifierBehind watches per verifier.
          {
            record: 'cluster_issuer_outcome_le:skew_jwt_age_seconds_bucket:rate5m',
            expr: |||
              sum by (cluster, issuer, outcome, le) (rate(skew_jwt_age_seconds_bucket[5m]))
            |||,
          },
          {
            record: 'cluster_issuer_outcome_quantile:skew_jwt_age_seconds:histogram_quantile',
            expr: |||
              histogram_quantile(0.01, cluster_issuer_outcome_le:skew_jwt_age_seconds_bucket:rate5m)
            |||,
            labels: {
              quantile: '0.01',
            },
          },
          {
            record: 'cluster_issuer_outcome_quantile:skew_jwt_age_seconds:histogram_quantile',
            expr: |||
              histogram_quantile(0.5, cluster_issuer_outcome_le:skew_jwt_age_seconds_bucket:rate5m)
            |||,
            labels: {
              quantile: '0.5',
            },
          },
          {
            record: 'cluster_issuer_outcome_quantile:skew_jwt_age_seconds:histogram_quantile',
            expr: |||
              histogram_quantile(0.99, cluster_issuer_outcome_le:skew_jwt_age_seconds_bucket:rate5m)
            |||,
            labels: {
              quantile: '0.99',
            },
          },
          // The issuer lead seen by the verifiers of the cluster: the largest (the verifier furthest
          // behind that issuer) and the smallest. Only verifiers that saw the issuer's tokens in the
          // last 5 minutes count: the gauge keeps its last value when traffic stops.
          {
            record: 'cluster_issuer:skew_jwt_issuer_lead_seconds:max',
            expr: |||
              max by (cluster, issuer) (
                skew_jwt_issuer_lead_seconds
                and
                sum without (outcome) (increase(skew_jwt_verifications_total[5m])) > 0
              )
            |||,
          },
          {
            record: 'cluster_issuer:skew_jwt_issuer_lead_seconds:min',
            expr: |||
              min by (cluster, issuer) (
                skew_jwt_issuer_lead_seconds
                and
                sum without (outcome) (increase(skew_jwt_verifications_total[5m])) > 0
              )
            |||,
          },
        ],
      },
    ],
  },
}
