// What users of the mixin set. Override any field from your own jsonnet:
//
//   (import 'skew-exporter-mixin/mixin.libsonnet') + {
//     _config+:: { skewExporterSelector: 'job="time-skew"', clockDriftCriticalSeconds: 0.2 },
//   }
//
// The files in alerts/, dashboards/ and examples/kubernetes/prometheusrule.yaml are this
// mixin rendered with these defaults (mixin/generate.sh).
{
  _config+:: {
    // The selector of the exporter's scrape job, as SkewExporterDown matches `up` with it
    // (every other rule selects the exporter's own skew_* series, whatever the job).
    skewExporterSelector: 'job="skew-exporter"',

    // The exporter's --ntp.interval, in seconds, and how many sampling rounds without an
    // accepted sample make an NTP server unreachable (NtpServerUnreachable) and a server's
    // sample too old to count in ClockDriftHigh/ClockDriftWarning's fallback: 5 x 32 s = 160 s.
    // The window needs at least two scrapes: keep the scrape interval at or below half of it.
    ntpIntervalSeconds: 32,
    ntpStaleRounds: 5,

    // |NTP offset| beyond which the local clock is off: ClockDriftHigh (critical, for 2 min)
    // and ClockDriftWarning (warning, for 10 min). Both signs alike.
    clockDriftCriticalSeconds: 0.1,
    clockDriftWarningSeconds: 0.05,

    // Issuer lead (and its mirror, negative token age at a verifier) beyond which
    // JwtIssuerClockAhead and JwtVerifierBehind fire.
    jwtIssuerLeadSeconds: 2,

    // Where each alert's runbook_url points; %s is the alert name in lower case. The default
    // is the runbook's path in this repository (as the `runbook` annotation has it): set it to
    // the URL where you publish docs/runbook.md.
    runbookURLPattern: 'docs/runbook.md#%s',

    // The Grafana dashboard.
    dashboardRefresh: '30s',
    dashboardTags: ['skew-exporter', 'ntp', 'jwt', 'time'],
    dashboardUid: 'skew-exporter',
    dashboardTitle: 'skew-exporter: clock skew',
  },
}
