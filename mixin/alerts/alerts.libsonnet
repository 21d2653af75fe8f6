// The alerts: prometheusAlerts, rendered to alerts/skew-exporter.rules.yml by mixin/generate.sh
// (do not edit that file; edit this one and run the script).
//
// Metric names, labels and signs are the contract in METRICS.md:
//   NTP offset = server clock - local clock (positive: the local clock is behind).
//   Token age  = verifier clock - iat      (negative: the verifier is behind its issuer).
//
// Conventions used below:
// - Aggregations use `without (...)` rather than `by (...)`, so that target labels you add in
//   relabelling (cluster, env, ...) survive into the alert and can be routed on.
// - Windows that count NTP sampling rounds are _config.ntpStaleRounds x
//   _config.ntpIntervalSeconds (160 s by default), see config.libsonnet.
// - Nothing here applies rate()/increase() to skew_jwt_age_seconds_sum: token ages can be
//   negative, so that sum can go down and would read as a counter reset. Only the buckets and
//   _count of that histogram are used.
// - Mixin conventions: `severity` is critical, warning or info; `summary` is a static sentence
//   ending with a period; `description` is templated with the labels and value;
//   `runbook_url` follows _config.runbookURLPattern, and `runbook` is the runbook's path in
//   this repository, with an anchor named after the alert in lower case.
//
// Tests: alerts/tests/skew-exporter.test.yml (run alerts/check.sh), and
// mixin/tests/custom-config.test.yml against the mixin rendered with another _config
// (tests/mixin.rs).

// A description written over several lines is one line of text, as YAML's `>-` folds it.
local fold(s) = std.strReplace(std.rstripChars(s, '\n'), '\n', ' ');
// Seconds as PromQL and as text.
local num(s) = '%g' % s;
local ms(s) = '%d ms' % std.floor(s * 1000 + 0.5);

{
  local c = $._config,
  local window = '%ds' % (c.ntpStaleRounds * c.ntpIntervalSeconds),

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'skew-exporter',
        rules: [
          // ------------------------------------------------------------------------------------
          // Clock
          // ------------------------------------------------------------------------------------
          //
          // The system offset (the combined offset of the servers that form a majority) is the
          // trusted value. When there is no majority, it is absent; we then fire only when every
          // server with an accepted sample in the last 160 s puts the local clock beyond the
          // threshold in the same direction (the value is the one closest to zero, the most
          // conservative). Both gauges hold the lowest-delay sample of a burst, so a single bad
          // exchange never reaches them; `for: 2m` (about four sampling rounds) absorbs a single
          // bad round.
          // "Recent" is judged from the `ok` counter, not from time() minus
          // skew_ntp_last_success_timestamp_seconds: that timestamp is written by the very clock
          // under test, and a clock minutes behind would make every server look stale (and one
          // minutes ahead would make a dead server look fresh).
          {
            alert: 'ClockDriftHigh',
            expr: |||
              (
                  skew_ntp_system_offset_seconds > %(threshold)s
                or
                  skew_ntp_system_offset_seconds < -%(threshold)s
              )
              or
              (
                (
                    min without (server) (
                      skew_ntp_offset_seconds
                      and on (job, instance, server)
                      increase(skew_ntp_queries_total{result="ok"}[%(window)s]) > 0
                    ) > %(threshold)s
                  or
                    max without (server) (
                      skew_ntp_offset_seconds
                      and on (job, instance, server)
                      increase(skew_ntp_queries_total{result="ok"}[%(window)s]) > 0
                    ) < -%(threshold)s
                )
                unless on (job, instance)
                skew_ntp_system_offset_seconds
              )
            ||| % { threshold: num(c.clockDriftCriticalSeconds), window: window },
            'for': '2m',
            labels: {
              severity: 'critical',
            },
            annotations: {
              summary: 'The local clock is off NTP time by more than %s.' % ms(c.clockDriftCriticalSeconds),
              // Not a %-format: the template's printf has %s of its own.
              description: fold(|||
                NTP offset (server - local) on {{ $labels.instance }} has been
                {{ $value | humanize }}s for at least 2 minutes, beyond the ±
              |||) + ms(c.clockDriftCriticalSeconds) + ' ' + fold(|||
                limit. Positive means the local clock is behind, negative that it is ahead. The
                value is the system offset of the agreeing servers or, without a majority, the
                smallest offset among servers that all agree on the direction. Measurement bound:
                {{ with printf
                "skew_ntp_system_offset_bound_seconds{job='%s',instance='%s'}" $labels.job
                $labels.instance | query }}±{{ . | first | value | humanize }}s (system
                offset){{ else }}{{ with printf
                "max(skew_ntp_offset_bound_seconds{job='%s',instance='%s'})" $labels.job
                $labels.instance | query }}±{{ . | first | value | humanize }}s (widest server
                bound){{ else }}unknown{{ end }}{{ end }}.
              |||),
              runbook: 'docs/runbook.md#clockdrifthigh',
              runbook_url: c.runbookURLPattern % 'clockdrifthigh',
            },
          },
          {
            alert: 'ClockDriftWarning',
            expr: |||
              (
                  skew_ntp_system_offset_seconds > %(threshold)s
                or
                  skew_ntp_system_offset_seconds < -%(threshold)s
              )
              or
              (
                (
                    min without (server) (
                      skew_ntp_offset_seconds
                      and on (job, instance, server)
                      increase(skew_ntp_queries_total{result="ok"}[%(window)s]) > 0
                    ) > %(threshold)s
                  or
                    max without (server) (
                      skew_ntp_offset_seconds
                      and on (job, instance, server)
                      increase(skew_ntp_queries_total{result="ok"}[%(window)s]) > 0
                    ) < -%(threshold)s
                )
                unless on (job, instance)
                skew_ntp_system_offset_seconds
              )
            ||| % { threshold: num(c.clockDriftWarningSeconds), window: window },
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'The local clock is off NTP time by more than %s.' % ms(c.clockDriftWarningSeconds),
              description: fold(|||
                NTP offset (server - local) on {{ $labels.instance }} has been
                {{ $value | humanize }}s for at least 10 minutes, beyond the ±%(warning)s warning
                level (critical at ±%(critical)s). Positive means the local clock is behind,
                negative that it is ahead.
              ||| % { warning: ms(c.clockDriftWarningSeconds), critical: ms(c.clockDriftCriticalSeconds) }),
              runbook: 'docs/runbook.md#clockdriftwarning',
              runbook_url: c.runbookURLPattern % 'clockdriftwarning',
            },
          },
          // No accepted exchange (the `ok` counter did not move) for 160 s = 5 sampling intervals
          // (the window, from _config), on an exporter that has been up for at least that long
          // (its `ok` series existed 160 s ago; every configured server has one from start-up). This covers a server that
          // stopped answering and one that never answered, and does not depend on the local
          // clock, unlike time() - skew_ntp_last_success_timestamp_seconds. The value is the
          // number of failed queries in the window (0 while backing off after a Kiss-o'-Death).
          // No `for`: 160 s without a single accepted sample is already five failed rounds.
          {
            alert: 'NtpServerUnreachable',
            expr: |||
              sum without (result) (increase(skew_ntp_queries_total{result!="ok"}[%(window)s]))
              and on (job, instance, server)
              increase(skew_ntp_queries_total{result="ok"}[%(window)s]) == 0
              and on (job, instance, server)
              skew_ntp_queries_total{result="ok"} offset %(window)s
            ||| % { window: window },
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'An NTP server gives no accepted sample.',
              description: fold(|||
                No accepted NTP sample from {{ $labels.server }} on {{ $labels.instance }} for
                at least %(window)s (%(rounds)d sampling intervals of %(interval)d s); about
                {{ printf "%%.0f" $value }} queries to it failed meanwhile. The "NTP query results by class" panel shows why
                (timeout, dns_error, kiss_of_death, ...); after a Kiss-o'-Death the exporter
                polls less often.
              ||| % {
                window: '%d s' % (c.ntpStaleRounds * c.ntpIntervalSeconds),
                rounds: c.ntpStaleRounds,
                interval: c.ntpIntervalSeconds,
              }),
              runbook: 'docs/runbook.md#ntpserverunreachable',
              runbook_url: c.runbookURLPattern % 'ntpserverunreachable',
            },
          },
          // The exporter exports a system offset only while a strict majority of the servers with
          // a fresh sample agree. Configured servers are known from skew_ntp_queries_total, whose
          // series exist (at zero) from start-up for every configured server.
          {
            alert: 'NtpNoMajority',
            expr: |||
              count without (server, result) (skew_ntp_queries_total{result="ok"})
              unless on (job, instance)
              skew_ntp_system_offset_seconds
            |||,
            'for': '5m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'No majority of NTP servers agrees on the time.',
              description: fold(|||
                {{ $value }} NTP server(s) are configured on {{ $labels.instance }}, but no
                strict majority of the servers with a recent sample agree on the time, so there
                has been no system offset for 5 minutes. ClockDriftHigh then only fires when all
                servers agree on the direction. Either servers are unreachable (see
                NtpServerUnreachable) or they disagree (see the "Falsetickers" panel).
              |||),
              runbook: 'docs/runbook.md#ntpnomajority',
              runbook_url: c.runbookURLPattern % 'ntpnomajority',
            },
          },
          {
            alert: 'NtpFalseticker',
            expr: |||
              skew_ntp_falseticker == 1
            |||,
            'for': '5m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'An NTP server disagrees with the majority.',
              description: fold(|||
                {{ $labels.server }} has been a falseticker on {{ $labels.instance }} for 5
                minutes: its offset interval does not overlap the interval the majority agrees
                on. It is left out of the system offset. If other hosts use it as their time
                source, their clocks are wrong.
              |||),
              runbook: 'docs/runbook.md#ntpfalseticker',
              runbook_url: c.runbookURLPattern % 'ntpfalseticker',
            },
          },
          // A reply counts as `unsynchronized` when its leap indicator is 3 or its stratum 16 (the
          // leap gauge alone misses stratum 16). The value is the share of such replies, or 3 when
          // only the leap gauge matches.
          {
            alert: 'NtpServerUnsynchronized',
            expr: |||
              (
                  sum without (result) (rate(skew_ntp_queries_total{result="unsynchronized"}[5m]))
                /
                  sum without (result) (rate(skew_ntp_queries_total[5m]))
              ) > 0.5
              or on (job, instance, server)
              skew_ntp_leap_indicator == 3
            |||,
            'for': '5m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'An NTP server says its own clock is not synchronised.',
              description: fold(|||
                {{ $labels.server }} has told {{ $labels.instance }} for 5 minutes that its own
                clock is not synchronised (leap indicator 3 or stratum
                16){{ if le $value 1.0 }}: {{ $value | humanizePercentage }} of its replies in
                the last 5 minutes{{ end }}. Its samples are refused.
              |||),
              runbook: 'docs/runbook.md#ntpserverunsynchronized',
              runbook_url: c.runbookURLPattern % 'ntpserverunsynchronized',
            },
          },
          // The kernel's own claim (adjtimex, what `timedatectl` calls "System clock
          // synchronized"): no NTP daemon disciplines this clock, or it lost its sources. Only
          // while the exporter also measures an offset, so that the alert shows both views: the
          // kernel's claim and how far off the clock really is.
          {
            alert: 'NtpMeasurementUncertain',
            expr: |||
              skew_ntp_system_offset_bound_seconds > 0.05
            |||,
            'for': '15m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'The NTP offset is uncertain by more than 50 ms.',
              description: fold(|||
                The bound of the system offset on {{ $labels.instance }} has been
                {{ $value | humanize }}s for 15 minutes: the true offset lies within the
                measured one ± that much, so the ±%s rule of ClockDriftHigh cannot be
                trusted either way. Causes: long or asymmetric network paths to the NTP servers,
                servers with a large root distance, or servers that stopped answering (a bound
                grows with its sample's age).
              ||| % ms(c.clockDriftCriticalSeconds)),
              runbook: 'docs/runbook.md#ntpmeasurementuncertain',
              runbook_url: c.runbookURLPattern % 'ntpmeasurementuncertain',
            },
          },
          {
            alert: 'ClockNotSynchronising',
            expr: |||
              skew_kernel_clock_synchronized == 0
              and on (job, instance)
              group without (server) (skew_ntp_offset_seconds)
            |||,
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'The kernel says the wall clock is not synchronised.',
              description: fold(|||
                For 10 minutes the kernel of {{ $labels.instance }} has reported its wall clock
                as unsynchronised (adjtimex: STA_UNSYNC or TIME_ERROR): no time daemon is
                disciplining it, so it drifts freely. The exporter's measured NTP offset shows
                how far it has gone so far; the drift alerts fire when it passes their limits.
              |||),
              runbook: 'docs/runbook.md#clocknotsynchronising',
              runbook_url: c.runbookURLPattern % 'clocknotsynchronising',
            },
          },
          // Steps larger than 100 ms: _count minus the le="0.1" bucket of the step-size histogram.
          {
            alert: 'ClockStepped',
            expr: |||
              increase(skew_clock_step_seconds_count[15m])
              - ignoring (le)
              increase(skew_clock_step_seconds_bucket{le="0.1"}[15m])
              > 0
            |||,
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'The wall clock was stepped by more than 100 ms.',
              description: fold(|||
                The wall clock of {{ $labels.instance }} jumped by more than 100 ms in the last
                15 minutes (steps above 100 ms: about {{ printf "%.0f" $value }}): a VM resume,
                or a manual or makestep correction. Token rejections around it are explained by
                it.
              |||),
              runbook: 'docs/runbook.md#clockstepped',
              runbook_url: c.runbookURLPattern % 'clockstepped',
            },
          },
          // A remote clock measured from its HTTP `Date` headers (`[[probe.http-date]]`): the
          // value is |offset| - bound, how far off that clock is *proven* to be (the offset's
          // interval lies wholly beyond it). JWT NumericDates are whole seconds and common leeways
          // 0-5 s, so a clock proven more than 1 s off is worth fixing before it exceeds a
          // verifier's leeway. The offset is against this host's clock: read ClockDriftHigh first.
          // A target whose rounds fail loses its offset series after 3 rounds, which resolves the
          // alert instead of holding it on a stale value.
          {
            alert: 'RemoteClockSkewHigh',
            expr: |||
              abs(skew_http_date_offset_seconds) - skew_http_date_offset_bound_seconds > 1
            |||,
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'A remote clock probed over HTTP Date is more than 1 s off.',
              description: fold(|||
                For 10 minutes the HTTP Date probe on {{ $labels.instance }} has proven the
                clock of {{ $labels.target }} to be at least {{ $value | humanize }}s away from
                the local clock (offset minus its error bound). Tokens it issues or verifies are
                judged that far off by everyone else.
              |||),
              runbook: 'docs/runbook.md#remoteclockskewhigh',
              runbook_url: c.runbookURLPattern % 'remoteclockskewhigh',
            },
          },
          // ------------------------------------------------------------------------------------
          // Tokens
          // ------------------------------------------------------------------------------------
          //
          // Issuer lead = -(lowest token age in the exporter's sliding window of event time,
          // 5 minutes by default): a lower bound of how far the issuer's clock runs ahead of the
          // verifier's. The gauge changes only when events arrive, so:
          // - one odd token holds it up for a whole window: `for` must be longer than the window
          //   (`[events] lead-window`; raise `for` if you raise that);
          // - without traffic it keeps its last value: require verifications in the last 5 min.
          {
            alert: 'JwtIssuerClockAhead',
            expr: |||
              skew_jwt_issuer_lead_seconds > %s
              and
              sum without (outcome) (increase(skew_jwt_verifications_total[5m])) > 0
            ||| % num(c.jwtIssuerLeadSeconds),
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: "A JWT issuer's clock runs ahead of a verifier's.",
              description: fold(|||
                For 10 minutes, tokens from {{ $labels.issuer }} verified at
                {{ $labels.source }} have claimed to be issued at least {{ $value | humanize }}s
                in the verifier's future (issuer lead, a lower bound). Verifiers with less
                leeway than that reject them as not yet valid or issued in the future.
              |||),
              runbook: 'docs/runbook.md#jwtissuerclockahead',
              runbook_url: c.runbookURLPattern % 'jwtissuerclockahead',
            },
          },
          // Accepted tokens only: a rejected token's iat may be forged (bad signature, unknown
          // key), and garbage must not page anyone. A verifier with zero leeway rejects the
          // future-dated tokens instead of accepting them; that case shows up in
          // JwtIssuerClockAhead (whose lead also counts time-related rejections) and
          // JwtRejectionRateHigh.
          // histogram_quantile interpolates across the negative bounds; a quantile inside the
          // lowest bucket returns that bucket's (negative) bound, which is still below the
          // threshold (-2 s by default, -_config.jwtIssuerLeadSeconds).
          {
            alert: 'JwtVerifierBehind',
            expr: |||
              histogram_quantile(0.01,
                sum without (outcome) (rate(skew_jwt_age_seconds_bucket{outcome="accepted"}[5m]))
              ) < -%s
            ||| % num(c.jwtIssuerLeadSeconds),
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: "A JWT verifier's clock is behind an issuer's.",
              description: fold(|||
                The 1st percentile of the age of tokens from {{ $labels.issuer }} accepted at
                {{ $labels.source }} has been {{ $value | humanize }}s for 10 minutes: more than
                1 %% of tokens arrive issued over %s s in the verifier's future. The verifier's
                clock is behind the issuer's (or the issuer's ahead).
              ||| % num(c.jwtIssuerLeadSeconds)),
              runbook: 'docs/runbook.md#jwtverifierbehind',
              runbook_url: c.runbookURLPattern % 'jwtverifierbehind',
            },
          },
          // Most tokens rejected as expired were only just expired: typical of a verifier clock
          // ahead of the issuer, or of zero leeway. At least 10 such rejections in 10 minutes.
          {
            alert: 'JwtExpiryEdgeRejections',
            expr: |||
              (
                  rate(skew_jwt_expired_by_seconds_bucket{le="5"}[10m])
                / ignoring (le)
                  rate(skew_jwt_expired_by_seconds_count[10m])
              ) > 0.5
              and ignoring (le)
              increase(skew_jwt_expired_by_seconds_count[10m]) >= 10
            |||,
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'Tokens are rejected as expired just after their expiry.',
              description: fold(|||
                {{ $value | humanizePercentage }} of the tokens from {{ $labels.issuer }} that
                {{ $labels.source }} rejected as expired in the last 10 minutes were less than 5
                s past their exp. That points at clock skew between verifier and issuer or at
                zero leeway in the verifier, not at clients that fail to refresh.
              |||),
              runbook: 'docs/runbook.md#jwtexpiryedgerejections',
              runbook_url: c.runbookURLPattern % 'jwtexpiryedgerejections',
            },
          },
          {
            alert: 'JwtRejectionRateHigh',
            expr: |||
              (
                  rate(skew_jwt_rejections_total[10m])
                / ignoring (reason) group_left
                  sum without (outcome) (rate(skew_jwt_verifications_total[10m]))
              ) > 0.05
              and ignoring (reason)
              sum without (outcome) (increase(skew_jwt_verifications_total[10m])) >= 60
            |||,
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'A verifier rejects many tokens for one reason.',
              description: fold(|||
                {{ $value | humanizePercentage }} of the verifications of tokens from
                {{ $labels.issuer }} at {{ $labels.source }} over the last 10 minutes were
                rejected with reason {{ $labels.reason }} (threshold 5 %, with at least 60
                verifications in 10 minutes).
              |||),
              runbook: 'docs/runbook.md#jwtrejectionratehigh',
              runbook_url: c.runbookURLPattern % 'jwtrejectionratehigh',
            },
          },
          // Issue 13, token verdicts. The verification delay is `ts - received` as the verifier
          // reports it (the event fields): the time a request waited between arriving and being
          // verified. A p99 over 1 s means a stalled event loop (synchronous validation inside an
          // async handler) or a queue: short-lived tokens then expire while they wait, and the
          // expired rejections get cause `in_transit`. No traffic: the quantile is NaN, no alert.
          {
            alert: 'JwtVerificationDelayHigh',
            expr: |||
              histogram_quantile(0.99,
                rate(skew_jwt_verification_delay_seconds_bucket[5m])
              ) > 1
            |||,
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'A verifier takes over 1 s to verify tokens.',
              description: fold(|||
                The 99th percentile of the verification delay (verifier clock at verification
                minus at arrival) at {{ $labels.source }} on {{ $labels.instance }} has been
                {{ $value | humanize }}s for 10 minutes. Requests wait before their token is
                checked: an event loop blocked by synchronous validation, or a queue. Tokens
                that expire while waiting are rejected with cause in_transit.
              |||),
              runbook: 'docs/runbook.md#jwtverificationdelayhigh',
              runbook_url: c.runbookURLPattern % 'jwtverificationdelayhigh',
            },
          },
          // Time rejections whose cause is `clock_skew`: the margin (how far before nbf/iat, or past
          // exp) is within the issuer lead measured for the pair, plus 1 s for whole-second
          // NumericDates. Over 1 % of the pair's verifications, with at least 60 verifications in
          // 10 minutes (as JwtRejectionRateHigh) so that a quiet pair cannot page on one token.
          {
            alert: 'JwtRejectionsFromClockSkew',
            expr: |||
              (
                  sum without (reason, cause) (
                    rate(skew_jwt_time_rejections_total{cause="clock_skew"}[10m])
                  )
                /
                  sum without (outcome) (rate(skew_jwt_verifications_total[10m]))
              ) > 0.01
              and
              sum without (outcome) (increase(skew_jwt_verifications_total[10m])) >= 60
            |||,
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'Tokens are rejected because of clock skew between issuer and verifier.',
              description: fold(|||
                {{ $value | humanizePercentage }} of the verifications of tokens from
                {{ $labels.issuer }} at {{ $labels.source }} over the last 10 minutes were time
                rejections explained by the clock skew measured between that issuer and that
                verifier (threshold 1 %). One of the two clocks is off; the issuer clock error
                panel says which where the verifier is local.
              |||),
              runbook: 'docs/runbook.md#jwtrejectionsfromclockskew',
              runbook_url: c.runbookURLPattern % 'jwtrejectionsfromclockskew',
            },
          },
          // A verifier that reports a leeway of 0 (the `leeway` event field, or /v1/verify's own)
          // and rejects tokens at the expiry edge (cause `expiry_edge`: expired by at most
          // `events.expiry-edge`, 5 s by default, and not explained by skew or waiting). The value
          // is the number of such rejections in the last 10 minutes, over all issuers.
          {
            alert: 'JwtVerifierWithoutLeeway',
            expr: |||
              sum without (issuer, reason, cause) (
                increase(skew_jwt_time_rejections_total{cause="expiry_edge"}[10m])
              ) > 0
              and on (job, instance, source)
              skew_jwt_verifier_leeway_seconds == 0
            |||,
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'A verifier without leeway rejects tokens at their expiry.',
              description: fold(|||
                {{ $labels.source }} on {{ $labels.instance }} reports a leeway of 0 s and
                rejected about {{ printf "%.0f" $value }} tokens in the last 10 minutes that had
                expired only moments before (cause expiry_edge). Any clock difference or delay
                at the boundary fails them; a leeway of a few seconds would let them through.
              |||),
              runbook: 'docs/runbook.md#jwtverifierwithoutleeway',
              runbook_url: c.runbookURLPattern % 'jwtverifierwithoutleeway',
            },
          },
          // The JWT tolerance probe (/probe, a blackbox-style scrape job of its own: instance is the
          // probed URL). Its offset and leeway gauges exist only when a probe succeeded. Skewed:
          // even the end of the offset's interval nearest to zero is over 1 s away.
          {
            alert: 'VerifierClockSkewed',
            expr: |||
              abs(skew_probe_verifier_offset_seconds) - skew_probe_bound_seconds > 1
            |||,
            'for': '15m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: "A probed verifier's clock is off by more than 1 s.",
              description: fold(|||
                For 15 minutes, the JWT tolerance probe (job {{ $labels.job }}) has measured the
                clock of the verifier at {{ $labels.instance }} at least
                {{ $value | humanize }}s away from the prober's (the offset less the
                measurement's bound; threshold 1 s). Tokens near their nbf or exp are accepted
                or rejected there at the wrong moment.
              |||),
              runbook: 'docs/runbook.md#verifierclockskewed',
              runbook_url: c.runbookURLPattern % 'verifierclockskewed',
            },
          },
          // Policy: a leeway of at least 1 s (tokens used right after issue or right before expiry
          // survive normal skew) and at most 30 s (a stolen or revoked-by-expiry token stays
          // usable that much longer). The value is the measured leeway.
          {
            alert: 'VerifierLeewayOutsidePolicy',
            expr: |||
              skew_probe_verifier_leeway_seconds < 1
              or
              skew_probe_verifier_leeway_seconds > 30
            |||,
            'for': '15m',
            labels: {
              severity: 'info',
            },
            annotations: {
              summary: 'A probed verifier applies a leeway outside the policy.',
              description: fold(|||
                For 15 minutes, the JWT tolerance probe (job {{ $labels.job }}) has measured a
                leeway of {{ $value | humanize }}s at {{ $labels.instance }}, outside the policy
                of 1 s to 30 s. Below it, tokens fail on ordinary clock skew; above it, expired
                tokens stay usable.
              |||),
              runbook: 'docs/runbook.md#verifierleewayoutsidepolicy',
              runbook_url: c.runbookURLPattern % 'verifierleewayoutsidepolicy',
            },
          },
          // ------------------------------------------------------------------------------------
          // The exporter itself
          // ------------------------------------------------------------------------------------
          {
            alert: 'SkewExporterEventsInvalid',
            expr: |||
              rate(skew_events_invalid_total[5m]) > 0
            |||,
            'for': '10m',
            labels: {
              severity: 'warning',
            },
            annotations: {
              summary: 'skew-exporter refuses verification events.',
              description: fold(|||
                {{ $labels.instance }} has been refusing {{ printf "%.3g" $value }} events/s on
                transport {{ $labels.transport }} with error {{ $labels.error }} for 10 minutes.
                The producer's events are lost to the token panels and alerts.
              |||),
              runbook: 'docs/runbook.md#skewexportereventsinvalid',
              runbook_url: c.runbookURLPattern % 'skewexportereventsinvalid',
            },
          },
          {
            alert: 'SkewExporterLabelOverflow',
            expr: |||
              increase(skew_label_overflow_total[10m]) > 0
            |||,
            'for': '10m',
            labels: {
              severity: 'info',
            },
            annotations: {
              summary: 'skew-exporter folds source or issuer values into other.',
              description: fold(|||
                About {{ printf "%.0f" $value }} events in the last 10 minutes on
                {{ $labels.instance }} carried a new {{ $labels.label }} value beyond the
                configured limit or allow-list and were counted under "other". Their tokens are
                mixed together in the per-{{ $labels.label }} panels and alerts.
              |||),
              runbook: 'docs/runbook.md#skewexporterlabeloverflow',
              runbook_url: c.runbookURLPattern % 'skewexporterlabeloverflow',
            },
          },
          // _config.skewExporterSelector names the scrape job (job="skew-exporter" by default).
          // absent() covers a target that service discovery lost altogether.
          {
            alert: 'SkewExporterDown',
            expr: |||
              up{%(selector)s} == 0
              or
              absent(up{%(selector)s})
            ||| % { selector: c.skewExporterSelector },
            'for': '5m',
            labels: {
              severity: 'critical',
            },
            annotations: {
              summary: 'skew-exporter is down or has no scrape target.',
              description: fold(|||
                {{ if $labels.instance }}Prometheus has failed to scrape {{ $labels.instance }}
                (job {{ $labels.job }}) for 5 minutes.{{ else }}Prometheus has had no target in
                job {{ $labels.job }} for 5 minutes (service discovery lost it, or the job is
                named differently).{{ end }} While skew-exporter is not scraped, no clock or
                token alert can fire.
              |||),
              runbook: 'docs/runbook.md#skewexporterdown',
              runbook_url: c.runbookURLPattern % 'skewexporterdown',
            },
          },
        ],
      },
    ],
  },
}
