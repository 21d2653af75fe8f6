// The Grafana dashboard: grafanaDashboards['skew-exporter.json'], rendered to
// dashboards/skew-exporter.json by mixin/generate.sh (do not edit that file; edit this one and
// run the script). A function of the mixin's _config: uid, title, refresh and tags, and the
// threshold lines of the offset, staleness and lead panels (display only; the alerts decide)
// with the figures their descriptions quote.
// Every panel passes grafana/dashboard-linter's rules (tests/dashboard_lint.rs).
// Milliseconds as text, for descriptions that quote a threshold.
local ms(s) = '%d ms' % std.floor(s * 1000 + 0.5);
function(c)
  {
    __inputs: [
      {
        name: 'DS_PROMETHEUS',
        label: 'Prometheus',
        description: 'The Prometheus that scrapes skew-exporter. Panels use the `datasource` variable, which you can switch at any time.',
        type: 'datasource',
        pluginId: 'prometheus',
        pluginName: 'Prometheus',
      },
    ],
    __elements: {},
    __requires: [
      {
        type: 'grafana',
        id: 'grafana',
        name: 'Grafana',
        version: '10.0.0',
      },
      {
        type: 'datasource',
        id: 'prometheus',
        name: 'Prometheus',
        version: '1.0.0',
      },
      {
        type: 'panel',
        id: 'heatmap',
        name: 'Heatmap',
        version: '',
      },
      {
        type: 'panel',
        id: 'stat',
        name: 'Stat',
        version: '',
      },
      {
        type: 'panel',
        id: 'state-timeline',
        name: 'State timeline',
        version: '',
      },
      {
        type: 'panel',
        id: 'table',
        name: 'Table',
        version: '',
      },
      {
        type: 'panel',
        id: 'timeseries',
        name: 'Time series',
        version: '',
      },
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: {
            type: 'grafana',
            uid: '-- Grafana --',
          },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        {
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          enable: true,
          hide: false,
          iconColor: 'red',
          name: 'Clock steps',
          expr: 'increase(skew_clock_steps_total{job=~"$job", instance=~"$instance"}[2m]) > 0',
          step: '1m',
          titleFormat: 'Wall clock stepped {{direction}}',
          textFormat: '{{instance}}: the wall clock jumped {{direction}} (skew_clock_step_seconds has the size). Token rejections around here are explained by it.',
          tagKeys: 'instance,direction',
          useValueForTime: false,
        },
        {
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          enable: true,
          hide: false,
          iconColor: 'orange',
          name: 'Host suspended',
          expr: 'increase(skew_host_suspended_seconds_total{job=~"$job", instance=~"$instance"}[2m]) > 0',
          step: '1m',
          titleFormat: 'Host suspended',
          textFormat: '{{instance}} was suspended (or its VM paused) for about this many seconds; its clock may have jumped on resume.',
          tagKeys: 'instance',
          useValueForTime: false,
        },
      ],
    },
    description: 'Clock skew between JWT issuers and verifiers, and the local clock against NTP, from skew-exporter. Alerts: alerts/skew-exporter.rules.yml; runbook: docs/runbook.md.',
    editable: false,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [],
    liveNow: false,
    panels: [
      {
        id: 1,
        type: 'row',
        title: 'Clock',
        description: 'The local clock against the configured NTP servers. NTP offset = server clock − local clock: positive means the local clock is behind.',
        collapsed: false,
        gridPos: {
          x: 0,
          y: 0,
          w: 24,
          h: 1,
        },
        panels: [],
      },
      {
        id: 2,
        type: 'timeseries',
        title: 'System offset',
        description: 'Combined offset (server − local) of the NTP servers that agree, per exporter instance. Positive: the local clock is behind; negative: it is ahead. Red lines: the ±' + ms(c.clockDriftCriticalSeconds) + ' limit of ClockDriftHigh; orange: ±' + ms(c.clockDriftWarningSeconds) + " (ClockDriftWarning). Look for a line leaving the band and staying out (drift, or time sync stopped on the host: check `chronyc tracking` / `timedatectl`). A gap means no majority of servers agrees, so there is no trusted offset: see 'Servers agreeing' and 'Falsetickers'. The shaded band is offset ± skew_ntp_system_offset_bound_seconds: the true offset lies inside it (README, 'The bound on every offset'). A band wider than the distance to a red line means ClockDriftHigh cannot be trusted either way (NtpMeasurementUncertain). The band is filled for one selected instance; with several, its edges are the dashed lines.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 1,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_system_offset_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}}',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_system_offset_seconds{job=~"$job", instance=~"$instance"} - skew_ntp_system_offset_bound_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: 'offset − bound',
            range: true,
            instant: false,
            refId: 'B',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_system_offset_seconds{job=~"$job", instance=~"$instance"} + skew_ntp_system_offset_bound_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: 'offset + bound',
            range: true,
            instant: false,
            refId: 'C',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
              axisSoftMin: -0.15,
              axisSoftMax: 0.15,
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: -c.clockDriftCriticalSeconds,
                },
                {
                  color: 'orange',
                  value: -c.clockDriftWarningSeconds,
                },
                {
                  color: 'orange',
                  value: c.clockDriftWarningSeconds,
                },
                {
                  color: 'red',
                  value: c.clockDriftCriticalSeconds,
                },
              ],
            },
            unit: 's',
          },
          overrides: [
            {
              matcher: {
                id: 'byName',
                options: 'offset − bound',
              },
              properties: [
                {
                  id: 'custom.lineStyle',
                  value: {
                    fill: 'dash',
                    dash: [
                      4,
                      4,
                    ],
                  },
                },
                {
                  id: 'custom.lineWidth',
                  value: 1,
                },
                {
                  id: 'custom.hideFrom',
                  value: {
                    legend: true,
                    tooltip: false,
                    viz: false,
                  },
                },
                {
                  id: 'color',
                  value: {
                    mode: 'fixed',
                    fixedColor: 'blue',
                  },
                },
              ],
            },
            {
              matcher: {
                id: 'byName',
                options: 'offset + bound',
              },
              properties: [
                {
                  id: 'custom.lineStyle',
                  value: {
                    fill: 'dash',
                    dash: [
                      4,
                      4,
                    ],
                  },
                },
                {
                  id: 'custom.lineWidth',
                  value: 1,
                },
                {
                  id: 'custom.hideFrom',
                  value: {
                    legend: true,
                    tooltip: false,
                    viz: false,
                  },
                },
                {
                  id: 'custom.fillBelowTo',
                  value: 'offset − bound',
                },
                {
                  id: 'custom.fillOpacity',
                  value: 15,
                },
                {
                  id: 'color',
                  value: {
                    mode: 'fixed',
                    fixedColor: 'blue',
                  },
                },
              ],
            },
          ],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 3,
        type: 'timeseries',
        title: 'Offset per server',
        description: "Offset (server − local) of the lowest-delay sample of each server's last burst. The servers should lie on top of each other; one line apart from the rest is a falseticker (a bad server, not a bad local clock). All lines moving together means the local clock moved. A perfectly flat line can be a server that stopped answering and keeps its last value: check 'Time since last successful sample'. Red lines: ±" + ms(c.clockDriftCriticalSeconds) + ". Dashed: each server's offset ± skew_ntp_offset_bound_seconds (delay/2 + root distance, growing with the sample's age): the interval that holds that server's true offset. A server far off with a wide interval is a slow or asymmetric path; far off with a narrow one, a falseticker.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 12,
          y: 1,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_offset_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_offset_seconds{job=~"$job", instance=~"$instance"} - skew_ntp_offset_bound_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}} − bound',
            range: true,
            instant: false,
            refId: 'B',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_offset_seconds{job=~"$job", instance=~"$instance"} + skew_ntp_offset_bound_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}} + bound',
            range: true,
            instant: false,
            refId: 'C',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
              axisSoftMin: -0.15,
              axisSoftMax: 0.15,
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: -c.clockDriftCriticalSeconds,
                },
                {
                  color: 'orange',
                  value: -c.clockDriftWarningSeconds,
                },
                {
                  color: 'orange',
                  value: c.clockDriftWarningSeconds,
                },
                {
                  color: 'red',
                  value: c.clockDriftCriticalSeconds,
                },
              ],
            },
            unit: 's',
          },
          overrides: [
            {
              matcher: {
                id: 'byFrameRefID',
                options: 'B',
              },
              properties: [
                {
                  id: 'custom.lineStyle',
                  value: {
                    fill: 'dash',
                    dash: [
                      4,
                      4,
                    ],
                  },
                },
                {
                  id: 'custom.lineWidth',
                  value: 1,
                },
                {
                  id: 'custom.hideFrom',
                  value: {
                    legend: true,
                    tooltip: false,
                    viz: false,
                  },
                },
              ],
            },
            {
              matcher: {
                id: 'byFrameRefID',
                options: 'C',
              },
              properties: [
                {
                  id: 'custom.lineStyle',
                  value: {
                    fill: 'dash',
                    dash: [
                      4,
                      4,
                    ],
                  },
                },
                {
                  id: 'custom.lineWidth',
                  value: 1,
                },
                {
                  id: 'custom.hideFrom',
                  value: {
                    legend: true,
                    tooltip: false,
                    viz: false,
                  },
                },
              ],
            },
          ],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 4,
        type: 'timeseries',
        title: 'Delay per server',
        description: "Round-trip delay of the sample behind each offset. The offset's error is at most half the delay, so a delay spike together with an offset jump on one server is an asymmetric or congested network path, not a clock step. Steadily high delay makes that server's offsets less trustworthy.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 9,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_delay_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 5,
        type: 'timeseries',
        title: 'Root distance per server',
        description: "Root delay / 2 + root dispersion from the server's last good reply: how far the server itself may be from its reference clock. Values above about 1 s (NTP's usual limit) mean the server's time is poorly anchored, whatever it tells us; prefer other servers.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 8,
          y: 9,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_root_distance_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 6,
        type: 'timeseries',
        title: 'Time since last successful sample',
        description: 'Seconds since each server last produced an accepted sample. It should saw-tooth below the sampling interval (' + c.ntpIntervalSeconds + ' s by default). The red line at ' + (c.ntpStaleRounds * c.ntpIntervalSeconds) + ' s (' + c.ntpStaleRounds + " intervals) is about where NtpServerUnreachable fires; see 'NTP query results by class' for why the server fails. Servers that never answered since the exporter started have no line here. The timestamp is written by the exporter host's own clock: if that clock is far off (see 'System offset'), every line is shifted by the same amount, so judge the shape, not the level (the alert itself uses the `ok` counter and does not depend on it).",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 16,
          y: 9,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'time() - skew_ntp_last_success_timestamp_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: c.ntpStaleRounds * c.ntpIntervalSeconds,
                },
              ],
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 7,
        type: 'timeseries',
        title: 'Stratum',
        description: "Stratum from each server's last good reply (1 = attached to a reference clock, 2 = synchronised to a stratum-1 server, ...). A server whose stratum jumps up has lost its upstream; stratum 16 replies are refused as unsynchronised (see 'NTP query results by class').",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 17,
          w: 6,
          h: 7,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_stratum{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'stepAfter',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'none',
            decimals: 0,
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 8,
        type: 'state-timeline',
        title: 'Leap indicator',
        description: "Leap indicator of each server's last reply. 0 is normal; 1 or 2 announce a leap second at the end of the month (expected before a leap second, harmless otherwise); 3 (red) means the server says its own clock is not synchronised, and its samples are refused (NtpServerUnsynchronized).",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 6,
          y: 17,
          w: 6,
          h: 7,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_leap_indicator{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'thresholds',
            },
            custom: {
              fillOpacity: 70,
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineWidth: 0,
              spanNulls: false,
            },
            mappings: [
              {
                type: 'value',
                options: {
                  '0': {
                    text: 'ok',
                    color: 'green',
                    index: 0,
                  },
                  '1': {
                    text: '+1 s leap',
                    color: 'blue',
                    index: 1,
                  },
                  '2': {
                    text: '−1 s leap',
                    color: 'blue',
                    index: 2,
                  },
                  '3': {
                    text: 'unsynchronised',
                    color: 'red',
                    index: 3,
                  },
                },
              },
            ],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'text',
                  value: null,
                },
              ],
            },
            unit: 'none',
          },
          overrides: [],
        },
        options: {
          alignValue: 'left',
          legend: {
            displayMode: 'list',
            placement: 'bottom',
            showLegend: false,
          },
          mergeValues: true,
          rowHeight: 0.9,
          showValue: 'auto',
          tooltip: {
            mode: 'single',
            sort: 'none',
          },
        },
      },
      {
        id: 9,
        type: 'state-timeline',
        title: 'Falsetickers',
        description: "Red: the server's offset interval does not overlap the interval the majority agrees on, so it is left out of the system offset (NtpFalseticker fires after 5 minutes). One red server among several green ones is a bad server. All servers green but no system offset: see 'Servers agreeing'.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 12,
          y: 17,
          w: 6,
          h: 7,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_falseticker{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'thresholds',
            },
            custom: {
              fillOpacity: 70,
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineWidth: 0,
              spanNulls: false,
            },
            mappings: [
              {
                type: 'value',
                options: {
                  '0': {
                    text: 'agrees',
                    color: 'green',
                    index: 0,
                  },
                  '1': {
                    text: 'falseticker',
                    color: 'red',
                    index: 1,
                  },
                },
              },
            ],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'text',
                  value: null,
                },
              ],
            },
            unit: 'none',
          },
          overrides: [],
        },
        options: {
          alignValue: 'left',
          legend: {
            displayMode: 'list',
            placement: 'bottom',
            showLegend: false,
          },
          mergeValues: true,
          rowHeight: 0.9,
          showValue: 'auto',
          tooltip: {
            mode: 'single',
            sort: 'none',
          },
        },
      },
      {
        id: 10,
        type: 'timeseries',
        title: 'Servers agreeing',
        description: 'How many servers form the majority (0 without one), against how many are configured. Agreeing must be more than half of the servers with a recent sample for a system offset to exist; at 0 there is no trusted offset (NtpNoMajority). Configure at least three servers so that one bad server can be outvoted.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 18,
          y: 17,
          w: 6,
          h: 7,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_servers_agreeing{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} agreeing',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'count by (job, instance) (skew_ntp_last_success_timestamp_seconds{job=~"$job", instance=~"$instance"})',
            legendFormat: '{{instance}} configured',
            range: true,
            instant: false,
            refId: 'B',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'stepAfter',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'none',
            decimals: 0,
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 11,
        type: 'timeseries',
        title: 'NTP query results by class',
        description: 'NTP exchanges per second by result. Healthy: only `ok` (green). `timeout` or `network_error`: the server or the path (firewall, UDP 123) is down. `dns_error`: the name does not resolve. `kiss_of_death`: the server asks us to slow down (RATE) or refuses service (DENY/RSTR). `unsynchronized`: the server says its own clock is not synchronised. `invalid_response`: a reply that failed validation (wrong origin timestamp, bad mode or version).',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 24,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (instance, server, result) (rate(skew_ntp_queries_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))',
            legendFormat: '{{instance}} {{server}} {{result}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 60,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'normal',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'reqps',
          },
          overrides: [
            {
              matcher: {
                id: 'byRegexp',
                options: '.* ok$',
              },
              properties: [
                {
                  id: 'color',
                  value: {
                    fixedColor: 'green',
                    mode: 'fixed',
                  },
                },
              ],
            },
          ],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 12,
        type: 'timeseries',
        title: 'Offset sample spread per server',
        description: "5th, 50th and 95th percentile of every accepted raw offset sample (not only the best of each burst), from the skew_ntp_sample_offset_seconds histogram. A wide band is a noisy path; the median should sit close to 'Offset per server'. Percentiles are interpolated within buckets that are dense around ±100 ms and coarse beyond ±250 ms.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 12,
          y: 24,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.05, sum by (instance, server, le) (rate(skew_ntp_sample_offset_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval])))',
            legendFormat: 'p5 {{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.5, sum by (instance, server, le) (rate(skew_ntp_sample_offset_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval])))',
            legendFormat: 'p50 {{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'B',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.95, sum by (instance, server, le) (rate(skew_ntp_sample_offset_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval])))',
            legendFormat: 'p95 {{instance}} {{server}}',
            range: true,
            instant: false,
            refId: 'C',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: -c.clockDriftCriticalSeconds,
                },
                {
                  color: 'red',
                  value: c.clockDriftCriticalSeconds,
                },
              ],
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 13,
        type: 'heatmap',
        title: 'Offset sample distribution',
        description: "Every accepted raw NTP offset sample of the selected instances, across all servers, by bucket. A tight band near 0 is healthy. A band that moves away from 0 is the local clock drifting; two bands are servers that disagree (see 'Falsetickers'); a smear is a noisy network path. Buckets are dense around the ±100 ms limit.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 32,
          w: 24,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (le) (increase(skew_ntp_sample_offset_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval]))',
            legendFormat: '{{le}}',
            range: true,
            instant: false,
            refId: 'A',
            format: 'heatmap',
          },
        ],
        fieldConfig: {
          defaults: {
            custom: {
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              scaleDistribution: {
                type: 'linear',
              },
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          calculate: false,
          cellGap: 1,
          cellValues: {
            unit: 'short',
          },
          color: {
            exponent: 0.5,
            fill: 'dark-orange',
            mode: 'scheme',
            reverse: false,
            scale: 'exponential',
            scheme: 'Oranges',
            steps: 64,
          },
          exemplars: {
            color: 'rgba(255,0,255,0.7)',
          },
          filterValues: {
            le: 1e-09,
          },
          legend: {
            show: true,
          },
          rowsFrame: {
            layout: 'auto',
            value: 'count',
          },
          showValue: 'never',
          tooltip: {
            mode: 'single',
            show: true,
            showColorScale: false,
            yHistogram: true,
          },
          yAxis: {
            axisPlacement: 'left',
            reverse: false,
            unit: 's',
          },
        },
      },
      {
        id: 31,
        type: 'timeseries',
        title: 'Remote clocks (HTTP Date)',
        description: "Three views of one question, per exporter: how far is a remote clock from ours? Solid: the offset (target − local, the NTP sign) of each [[probe.http-date]] target, measured from its HTTP Date headers; dashed: offset ± bound, the interval that holds the truth. 'NTP offset' is this host's own offset from NTP time (server − local): a target whose line sits on it keeps true time. 'token lead' is the lead of the target's issuer (for targets configured with issuer), derived from the tokens verifiers saw: when it agrees with the HTTP offset, the tokens confirm the clock. Red lines: ±1 s (RemoteClockSkewHigh fires when the whole interval lies beyond). A target whose rounds fail disappears after 3 rounds: see skew_http_date_probes_total.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 40,
          w: 24,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_http_date_offset_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{target}}',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_http_date_offset_seconds{job=~"$job", instance=~"$instance"} - skew_http_date_offset_bound_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{target}} lower',
            range: true,
            instant: false,
            refId: 'B',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_http_date_offset_seconds{job=~"$job", instance=~"$instance"} + skew_http_date_offset_bound_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{target}} upper',
            range: true,
            instant: false,
            refId: 'C',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_system_offset_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} NTP offset',
            range: true,
            instant: false,
            refId: 'D',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'max by (job, instance, issuer) (skew_jwt_issuer_lead_seconds{job=~"$job", instance=~"$instance"})\n* on (job, instance, issuer) group_right\nskew_http_date_target_info{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{target}} token lead ({{issuer}})',
            range: true,
            instant: false,
            refId: 'E',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: -1,
                },
                {
                  color: 'transparent',
                  value: -0.999,
                },
                {
                  color: 'red',
                  value: 1,
                },
              ],
            },
            unit: 's',
          },
          overrides: [
            {
              matcher: {
                id: 'byRegexp',
                options: '.* (lower|upper)$',
              },
              properties: [
                {
                  id: 'custom.lineStyle',
                  value: {
                    fill: 'dash',
                    dash: [
                      10,
                      10,
                    ],
                  },
                },
                {
                  id: 'custom.lineWidth',
                  value: 1,
                },
              ],
            },
            {
              matcher: {
                id: 'byRegexp',
                options: '.* token lead .*',
              },
              properties: [
                {
                  id: 'custom.drawStyle',
                  value: 'points',
                },
                {
                  id: 'custom.pointSize',
                  value: 5,
                },
              ],
            },
          ],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 32,
        type: 'state-timeline',
        title: 'Kernel clock synchronised',
        description: "What the kernel says of the wall clock (adjtimex(2), as `timedatectl` shows 'System clock synchronized'): red means the time daemon is not disciplining it (ClockNotSynchronising fires after 10 minutes while an NTP offset is measured). This is the kernel's claim, set by the time daemon; compare it with the measured offset and its bound beside it. Absent off Linux.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 48,
          w: 8,
          h: 7,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_kernel_clock_synchronized{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'thresholds',
            },
            custom: {
              fillOpacity: 70,
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineWidth: 0,
              spanNulls: false,
            },
            mappings: [
              {
                type: 'value',
                options: {
                  '0': {
                    text: 'not synchronised',
                    color: 'red',
                    index: 0,
                  },
                  '1': {
                    text: 'synchronised',
                    color: 'green',
                    index: 1,
                  },
                },
              },
            ],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'text',
                  value: null,
                },
              ],
            },
            unit: 'none',
          },
          overrides: [],
        },
        options: {
          alignValue: 'left',
          legend: {
            displayMode: 'list',
            placement: 'bottom',
            showLegend: false,
          },
          mergeValues: true,
          rowHeight: 0.9,
          showValue: 'auto',
          tooltip: {
            mode: 'single',
            sort: 'none',
          },
        },
      },
      {
        id: 33,
        type: 'timeseries',
        title: 'Kernel error estimates vs measured offset',
        description: "The kernel's own error figures (maxerror, esterror: what the time daemon last told it; maxerror sits at 16 s on an undisciplined clock) beside what this exporter measures over the network: |system offset| + its bound, the worst the offset can truly be. A kernel maxerror far below the measured figure means the daemon's claim is not borne out.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 8,
          y: 48,
          w: 16,
          h: 7,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_kernel_clock_maxerror_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} kernel maxerror',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_kernel_clock_esterror_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} kernel esterror',
            range: true,
            instant: false,
            refId: 'B',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'abs(skew_ntp_system_offset_seconds{job=~"$job", instance=~"$instance"}) + skew_ntp_system_offset_bound_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} measured |offset| + bound',
            range: true,
            instant: false,
            refId: 'C',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'log',
                log: 10,
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: -c.clockDriftCriticalSeconds,
                },
                {
                  color: 'orange',
                  value: -c.clockDriftWarningSeconds,
                },
                {
                  color: 'orange',
                  value: c.clockDriftWarningSeconds,
                },
                {
                  color: 'red',
                  value: c.clockDriftCriticalSeconds,
                },
              ],
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 14,
        type: 'row',
        title: 'Tokens',
        description: "JWT verifications reported to the exporter. Token age = verifier clock − iat: negative means the token claims to be issued in the verifier's future.",
        collapsed: false,
        gridPos: {
          x: 0,
          y: 55,
          w: 24,
          h: 1,
        },
        panels: [],
      },
      {
        id: 15,
        type: 'heatmap',
        title: 'Token age',
        description: "Age of verified tokens (verifier clock − iat), both outcomes, for the selected sources and issuers. Healthy: a band just above 0 s (tokens used soon after issue) with a tail up to the token lifetime. Any mass below 0 s is tokens that claim to be issued in the verifier's future: the verifier's clock is behind the issuer's (JwtVerifierBehind) or the issuer's is ahead (JwtIssuerClockAhead). Built from the histogram's buckets only: negative ages can make skew_jwt_age_seconds_sum decrease, so that _sum is never rated.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 56,
          w: 12,
          h: 9,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (le) (increase(skew_jwt_age_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: '{{le}}',
            range: true,
            instant: false,
            refId: 'A',
            format: 'heatmap',
          },
        ],
        fieldConfig: {
          defaults: {
            custom: {
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              scaleDistribution: {
                type: 'linear',
              },
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          calculate: false,
          cellGap: 1,
          cellValues: {
            unit: 'short',
          },
          color: {
            exponent: 0.5,
            fill: 'dark-orange',
            mode: 'scheme',
            reverse: false,
            scale: 'exponential',
            scheme: 'Blues',
            steps: 64,
          },
          exemplars: {
            color: 'rgba(255,0,255,0.7)',
          },
          filterValues: {
            le: 1e-09,
          },
          legend: {
            show: true,
          },
          rowsFrame: {
            layout: 'auto',
            value: 'count',
          },
          showValue: 'never',
          tooltip: {
            mode: 'single',
            show: true,
            showColorScale: false,
            yHistogram: true,
          },
          yAxis: {
            axisPlacement: 'left',
            reverse: false,
            unit: 's',
          },
        },
      },
      {
        id: 16,
        type: 'timeseries',
        title: 'Token age percentiles per issuer',
        description: '1st, 50th and 99th percentile of token age per issuer, accepted and rejected tokens together. Watch p1: below the red line at −' + c.jwtIssuerLeadSeconds + ' s, more than 1 % of tokens arrive issued over ' + c.jwtIssuerLeadSeconds + " s in the verifier's future. JwtVerifierBehind uses accepted tokens only (a rejected token's iat may be forged), so a p1 dragged down by rejected garbage shows here but does not page. A quantile that falls in the lowest bucket shows that bucket's bound (−300 s by default), which means 'at least that far'. p99 near the token lifetime means clients use tokens until they expire. Built from the histogram's buckets only: negative ages can make skew_jwt_age_seconds_sum decrease, so that _sum is never rated.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 12,
          y: 56,
          w: 12,
          h: 9,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.01, sum by (issuer, le) (rate(skew_jwt_age_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval])))',
            legendFormat: 'p1 {{issuer}}',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.5, sum by (issuer, le) (rate(skew_jwt_age_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval])))',
            legendFormat: 'p50 {{issuer}}',
            range: true,
            instant: false,
            refId: 'B',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.99, sum by (issuer, le) (rate(skew_jwt_age_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval])))',
            legendFormat: 'p99 {{issuer}}',
            range: true,
            instant: false,
            refId: 'C',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: -c.jwtIssuerLeadSeconds,
                },
              ],
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 17,
        type: 'timeseries',
        title: 'Issuer lead',
        description: "How far each issuer's clock runs ahead of each verifier's (source), estimated as −(lowest token age over a sliding window of event time, 5 minutes by default; accepted tokens and time-related rejections only). It is a lower bound: delivery delay only hides lead, never invents it. Above the red line at " + c.jwtIssuerLeadSeconds + " s for 10 minutes (with traffic), JwtIssuerClockAhead fires: verifiers with less leeway reject fresh tokens as not yet valid. A plateau exactly one window long is one odd token; a flat line without traffic is the last value, held. Compare sources: if all see the same lead, the issuer's clock is wrong; if only one does, that verifier's clock is.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 65,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'max by (source, issuer) (skew_jwt_issuer_lead_seconds{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"})',
            legendFormat: '{{issuer}} at {{source}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: c.jwtIssuerLeadSeconds,
                },
              ],
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 18,
        type: 'timeseries',
        title: 'Verifications: accepted vs rejected',
        description: "Token verifications per second by outcome. A sudden rise of rejected (red) that coincides with a clock change on one host points at skew; a rise that tracks traffic is usually clients (see 'Rejections by reason').",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 12,
          y: 65,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (outcome) (rate(skew_jwt_verifications_total{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: '{{outcome}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: 'per second',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'short',
          },
          overrides: [
            {
              matcher: {
                id: 'byRegexp',
                options: 'accepted',
              },
              properties: [
                {
                  id: 'color',
                  value: {
                    fixedColor: 'green',
                    mode: 'fixed',
                  },
                },
              ],
            },
            {
              matcher: {
                id: 'byRegexp',
                options: 'rejected',
              },
              properties: [
                {
                  id: 'color',
                  value: {
                    fixedColor: 'red',
                    mode: 'fixed',
                  },
                },
              ],
            },
          ],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 19,
        type: 'timeseries',
        title: 'Rejections by reason',
        description: 'Rejected verifications per second, stacked by reason. Clock-related reasons are `expired`, `not_yet_valid` and `issued_in_future`; check the distributions below to tell skew from stale tokens. `invalid_signature` / `unknown_key` after a key rotation point at JWKS caching, `missing_token` at unauthenticated callers.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 73,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (reason) (rate(skew_jwt_rejections_total{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: '{{reason}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: 'per second',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 60,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'normal',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'short',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 20,
        type: 'timeseries',
        title: 'Rejected share by reason',
        description: 'Share of all verifications rejected for each reason, per source and issuer. JwtRejectionRateHigh fires above the red line at 5 % for 10 minutes (with at least 60 verifications in 10 minutes). A share that jumps at the same moment for several issuers at one source points at that verifier.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 12,
          y: 73,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (source, issuer, reason) (rate(skew_jwt_rejections_total{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))\n/ on (source, issuer) group_left\nsum by (source, issuer) (rate(skew_jwt_verifications_total{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: '{{reason}}: {{issuer}} at {{source}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: 0.05,
                },
              ],
            },
            unit: 'percentunit',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 21,
        type: 'heatmap',
        title: 'Expired-by distribution',
        description: 'For tokens rejected as `expired`: how long after exp they were presented (verifier clock − exp). A mass under 5 s means clock skew between verifier and issuer, or a verifier that allows zero leeway: tokens are refused at the very edge of their validity. A mass at minutes to hours means clients that do not refresh their tokens (or replay old ones): not a clock problem. JwtExpiryEdgeRejections fires when most expired rejections are under 5 s late.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 81,
          w: 8,
          h: 9,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (le) (increase(skew_jwt_expired_by_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: '{{le}}',
            range: true,
            instant: false,
            refId: 'A',
            format: 'heatmap',
          },
        ],
        fieldConfig: {
          defaults: {
            custom: {
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              scaleDistribution: {
                type: 'linear',
              },
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          calculate: false,
          cellGap: 1,
          cellValues: {
            unit: 'short',
          },
          color: {
            exponent: 0.5,
            fill: 'dark-orange',
            mode: 'scheme',
            reverse: false,
            scale: 'exponential',
            scheme: 'Reds',
            steps: 64,
          },
          exemplars: {
            color: 'rgba(255,0,255,0.7)',
          },
          filterValues: {
            le: 1e-09,
          },
          legend: {
            show: true,
          },
          rowsFrame: {
            layout: 'auto',
            value: 'count',
          },
          showValue: 'never',
          tooltip: {
            mode: 'single',
            show: true,
            showColorScale: false,
            yHistogram: true,
          },
          yAxis: {
            axisPlacement: 'left',
            reverse: false,
            unit: 's',
          },
        },
      },
      {
        id: 22,
        type: 'heatmap',
        title: 'Premature-by distribution',
        description: "For tokens rejected as `not_yet_valid` or `issued_in_future`: how far before nbf (or iat) they were presented (nbf − verifier clock). A mass under 5 s means clock skew (the issuer ahead of the verifier, or the verifier behind) or a verifier that allows zero leeway: fresh tokens are refused in the first seconds of their validity. A mass at minutes to hours is not ordinary skew: tokens minted with a future nbf on purpose, or an issuer clock that is grossly wrong. Compare with 'Issuer lead'.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 8,
          y: 81,
          w: 8,
          h: 9,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (le) (increase(skew_jwt_premature_by_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: '{{le}}',
            range: true,
            instant: false,
            refId: 'A',
            format: 'heatmap',
          },
        ],
        fieldConfig: {
          defaults: {
            custom: {
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              scaleDistribution: {
                type: 'linear',
              },
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          calculate: false,
          cellGap: 1,
          cellValues: {
            unit: 'short',
          },
          color: {
            exponent: 0.5,
            fill: 'dark-orange',
            mode: 'scheme',
            reverse: false,
            scale: 'exponential',
            scheme: 'Purples',
            steps: 64,
          },
          exemplars: {
            color: 'rgba(255,0,255,0.7)',
          },
          filterValues: {
            le: 1e-09,
          },
          legend: {
            show: true,
          },
          rowsFrame: {
            layout: 'auto',
            value: 'count',
          },
          showValue: 'never',
          tooltip: {
            mode: 'single',
            show: true,
            showColorScale: false,
            yHistogram: true,
          },
          yAxis: {
            axisPlacement: 'left',
            reverse: false,
            unit: 's',
          },
        },
      },
      {
        id: 23,
        type: 'timeseries',
        title: 'Expired rejections under 5 s late',
        description: 'Share of `expired` rejections that were less than 5 s past exp, per source and issuer. Above the red line at 50 % (with at least 10 such rejections in 10 minutes) JwtExpiryEdgeRejections fires: that is skew or zero leeway, not clients failing to refresh.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 16,
          y: 81,
          w: 8,
          h: 9,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (source, issuer) (rate(skew_jwt_expired_by_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer", le="5"}[$__rate_interval]))\n/\nsum by (source, issuer) (rate(skew_jwt_expired_by_seconds_count{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: '{{issuer}} at {{source}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
              axisSoftMin: 0,
              axisSoftMax: 1,
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: 0.5,
                },
              ],
            },
            unit: 'percentunit',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 34,
        type: 'bargauge',
        title: 'Rejections that N more seconds of leeway would have let through',
        description: "Over the dashboard's time range: how many time rejections (expired, not yet valid, issued in the future) were within N seconds of passing, for N = 1, 2, 5, 10 and 30 s. They would have passed with N more seconds of verifier leeway (from the expired-by and premature-by buckets). A large count at 1 s or 2 s is zero leeway at the edge or small clock skew (see JwtVerifierWithoutLeeway and the cause panel); counts that only grow at 30 s and beyond are stale tokens, which no leeway should hide.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 90,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (le) (\n  label_replace(increase(skew_jwt_expired_by_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer", le=~"1|2|5|10|30"}[$__range]), "edge", "exp", "", "")\n  or\n  label_replace(increase(skew_jwt_premature_by_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer", le=~"1|2|5|10|30"}[$__range]), "edge", "nbf", "", "")\n)',
            legendFormat: '{{le}} s more',
            range: false,
            instant: true,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'thresholds',
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'green',
                  value: null,
                },
                {
                  color: 'orange',
                  value: 1,
                },
              ],
            },
            unit: 'short',
            decimals: 0,
            min: 0,
          },
          overrides: [],
        },
        options: {
          displayMode: 'basic',
          orientation: 'horizontal',
          showUnfilled: true,
          valueMode: 'color',
          namePlacement: 'auto',
          sizing: 'auto',
          minVizHeight: 16,
          minVizWidth: 8,
          maxVizHeight: 300,
          reduceOptions: {
            calcs: [
              'lastNotNull',
            ],
            fields: '',
            values: false,
          },
        },
      },
      {
        id: 35,
        type: 'timeseries',
        title: 'Time rejections by cause',
        description: 'Time rejections (expired, not_yet_valid, issued_in_future) per second, by why they happened (first match wins): in_transit = still valid when the request arrived, it waited (see the delay panel); clock_skew = within the skew measured between issuer and verifier (+1 s for whole-second dates); expiry_edge = expired under 5 s ago and not explained otherwise (zero leeway at the boundary); stale_token = expired over 60 s ago (a client not refreshing); unexplained = none of these. docs/runbook.md says what to do for each.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 12,
          y: 90,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (cause, reason) (rate(skew_jwt_time_rejections_total{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: '{{cause}} ({{reason}})',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'green',
                  value: null,
                },
              ],
            },
            unit: 'reqps',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 36,
        type: 'timeseries',
        title: 'Verification delay p50 / p99 by source',
        description: "How long requests waited between arriving at the verifier and having their token checked (ts − received, both on the verifier's clock, so no clock skew enters it), per source. Above the red line at 1 s (p99, for 10 minutes) JwtVerificationDelayHigh fires: an event loop blocked by synchronous validation, or a queue. Short-lived tokens then expire while waiting (cause in_transit). Empty for verifiers that do not send `received`.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 98,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.5, sum by (source, le) (rate(skew_jwt_verification_delay_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source"}[$__rate_interval])))',
            legendFormat: 'p50 {{source}}',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.99, sum by (source, le) (rate(skew_jwt_verification_delay_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source"}[$__rate_interval])))',
            legendFormat: 'p99 {{source}}',
            range: true,
            instant: false,
            refId: 'B',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'line',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
                {
                  color: 'red',
                  value: 1,
                },
              ],
            },
            unit: 's',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 37,
        type: 'timeseries',
        title: 'Leeway used vs verifier leeway',
        description: "The leeway each verifier reports (the `leeway` event field, /v1/verify's own setting), against how much of it accepted tokens needed (p99 of how far outside their strict window they were, past exp or before nbf/iat), per source; right axis: tokens per second that only the leeway saved. A leeway of 0 with rejections at the expiry edge is JwtVerifierWithoutLeeway; a used leeway close to the configured one means tokens are about to fail.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 8,
          y: 98,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'max by (source) (skew_jwt_verifier_leeway_seconds{job=~"$job", instance=~"$instance", source=~"$source"})',
            legendFormat: 'leeway of {{source}}',
            range: true,
            instant: false,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'histogram_quantile(0.99, sum by (source, le) (rate(skew_jwt_leeway_used_seconds_bucket{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval])))',
            legendFormat: 'p99 used at {{source}}',
            range: true,
            instant: false,
            refId: 'B',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (source) (rate(skew_jwt_leeway_used_seconds_count{job=~"$job", instance=~"$instance", source=~"$source", issuer=~"$issuer"}[$__rate_interval]))',
            legendFormat: 'saved by leeway at {{source}}',
            range: true,
            instant: false,
            refId: 'C',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'green',
                  value: null,
                },
              ],
            },
            unit: 's',
          },
          overrides: [
            {
              matcher: {
                id: 'byFrameRefID',
                options: 'C',
              },
              properties: [
                {
                  id: 'unit',
                  value: 'reqps',
                },
                {
                  id: 'custom.axisPlacement',
                  value: 'right',
                },
                {
                  id: 'custom.drawStyle',
                  value: 'bars',
                },
              ],
            },
          ],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 38,
        type: 'stat',
        title: 'Issuer clock error',
        description: "Whose clock is wrong. For each issuer: issuer clock − true time, from the lead seen by verifiers whose own error is known (the exporter's /v1/verify and the sources in `[events] local-sources`, which run on this host), corrected by this host's NTP offset. Positive: the issuer runs fast (its fresh tokens are not yet valid elsewhere); negative: slow. Beside it, this host's own NTP offset (server − local), the correction applied. A lead seen only by remote verifiers does not appear here: that lead may be the verifier's clock as much as the issuer's.",
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 16,
          y: 98,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'max by (issuer) (skew_jwt_issuer_clock_error_seconds{job=~"$job", instance=~"$instance", issuer=~"$issuer"})',
            legendFormat: 'issuer {{issuer}} (+ = fast)',
            range: false,
            instant: true,
            refId: 'A',
          },
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_ntp_system_offset_seconds{job=~"$job", instance=~"$instance"}',
            legendFormat: 'this host {{instance}} (NTP offset)',
            range: false,
            instant: true,
            refId: 'B',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'thresholds',
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'red',
                  value: null,
                },
                {
                  color: 'green',
                  value: -1,
                },
                {
                  color: 'red',
                  value: 1,
                },
              ],
            },
            unit: 's',
            decimals: 3,
          },
          overrides: [],
        },
        options: {
          colorMode: 'value',
          graphMode: 'none',
          justifyMode: 'auto',
          orientation: 'horizontal',
          reduceOptions: {
            calcs: [
              'lastNotNull',
            ],
            fields: '',
            values: false,
          },
          showPercentChange: false,
          textMode: 'value_and_name',
          wideLayout: true,
        },
      },
      {
        id: 24,
        type: 'row',
        title: 'Exporter health',
        description: 'Is skew-exporter itself scraped, fed and keeping up?',
        collapsed: false,
        gridPos: {
          x: 0,
          y: 106,
          w: 24,
          h: 1,
        },
        panels: [],
      },
      {
        id: 25,
        type: 'stat',
        title: 'Exporter up',
        description: 'Whether Prometheus scrapes each selected exporter instance (the `up` series of its scrape job). Red: scrapes fail, so none of the panels or alerts above see fresh data (SkewExporterDown).',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 107,
          w: 6,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'up{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}}',
            range: false,
            instant: true,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'thresholds',
            },
            mappings: [
              {
                type: 'value',
                options: {
                  '0': {
                    text: 'down',
                    color: 'red',
                    index: 0,
                  },
                  '1': {
                    text: 'up',
                    color: 'green',
                    index: 1,
                  },
                },
              },
            ],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'red',
                  value: null,
                },
                {
                  color: 'green',
                  value: 1,
                },
              ],
            },
            unit: 'none',
          },
          overrides: [],
        },
        options: {
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'auto',
          orientation: 'auto',
          reduceOptions: {
            calcs: [
              'lastNotNull',
            ],
            fields: '',
            values: false,
          },
          showPercentChange: false,
          textMode: 'auto',
          wideLayout: true,
        },
      },
      {
        id: 26,
        type: 'table',
        title: 'Exporter version',
        description: 'Version and git revision of each running exporter (skew_exporter_build_info). Instances on different versions during a rollout can disagree in behaviour; a revision of `unknown` is a build from outside a git checkout.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 6,
          y: 107,
          w: 6,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_exporter_build_info{job=~"$job", instance=~"$instance"}',
            legendFormat: '__auto',
            range: false,
            instant: true,
            refId: 'A',
            format: 'table',
          },
        ],
        fieldConfig: {
          defaults: {
            custom: {
              align: 'auto',
              cellOptions: {
                type: 'auto',
              },
            },
            unit: 'none',
          },
          overrides: [],
        },
        options: {
          cellHeight: 'sm',
          showHeader: true,
          footer: {
            show: false,
            reducer: [
              'sum',
            ],
            fields: '',
          },
        },
        transformations: [
          {
            id: 'organize',
            options: {
              excludeByName: {
                Time: true,
                Value: true,
                __name__: true,
              },
              indexByName: {
                instance: 0,
                job: 1,
                version: 2,
                revision: 3,
              },
              renameByName: {},
            },
          },
        ],
      },
      {
        id: 27,
        type: 'timeseries',
        title: 'Events received per transport',
        description: 'Verification events per second, by how they arrived: `http` (pushed to /v1/events), `file` (tailed logs), `verify` (tokens sent to /v1/verify). A transport dropping to zero while the service is busy means a producer, a log path or a rotation broke: the token panels then go quiet, not green.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 12,
          y: 107,
          w: 12,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (instance, transport) (rate(skew_events_received_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))',
            legendFormat: '{{instance}} {{transport}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: 'per second',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'short',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 28,
        type: 'timeseries',
        title: 'Invalid events by error',
        description: 'Events refused per second by transport and error: `json` (not JSON), `missing_field`, `bad_value` (wrong type or out of range), `too_large`, `bad_token` (a token that cannot be decoded). Should be 0; a steady rate means a producer sends the wrong format (SkewExporterEventsInvalid).',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 0,
          y: 115,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (instance, transport, error) (rate(skew_events_invalid_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))',
            legendFormat: '{{instance}} {{transport}} {{error}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: 'per second',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 60,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'normal',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'short',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 29,
        type: 'timeseries',
        title: 'Label overflow',
        description: 'Events per second whose `source` or `issuer` was folded into `other` because the distinct-value limit was reached or the value is not in the allow-list. A steady rate means real sources or issuers are hidden under `other`: raise the limit or add them to the allow-list (SkewExporterLabelOverflow). A burst of new values can also be hostile input.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 8,
          y: 115,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'sum by (instance, label) (rate(skew_label_overflow_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))',
            legendFormat: '{{instance}} {{label}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: 'per second',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'short',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
      {
        id: 30,
        type: 'timeseries',
        title: 'Tail lag',
        description: 'For each tailed file pattern: file size − read offset, in bytes. It should stay near 0. A lag that grows means the exporter cannot keep up or stopped reading (permissions, a missed rotation); token panels then lag behind reality. Empty when no files are tailed.',
        datasource: {
          type: 'prometheus',
          uid: '${datasource}',
        },
        gridPos: {
          x: 16,
          y: 115,
          w: 8,
          h: 8,
        },
        targets: [
          {
            datasource: {
              type: 'prometheus',
              uid: '${datasource}',
            },
            editorMode: 'code',
            expr: 'skew_tail_lag_bytes{job=~"$job", instance=~"$instance"}',
            legendFormat: '{{instance}} {{pattern}}',
            range: true,
            instant: false,
            refId: 'A',
          },
        ],
        fieldConfig: {
          defaults: {
            color: {
              mode: 'palette-classic',
            },
            custom: {
              axisBorderShow: false,
              axisCenteredZero: false,
              axisColorMode: 'text',
              axisLabel: '',
              axisPlacement: 'auto',
              barAlignment: 0,
              drawStyle: 'line',
              fillOpacity: 0,
              gradientMode: 'none',
              hideFrom: {
                legend: false,
                tooltip: false,
                viz: false,
              },
              insertNulls: false,
              lineInterpolation: 'linear',
              lineWidth: 1,
              pointSize: 4,
              scaleDistribution: {
                type: 'linear',
              },
              showPoints: 'never',
              spanNulls: false,
              stacking: {
                group: 'A',
                mode: 'none',
              },
              thresholdsStyle: {
                mode: 'off',
              },
            },
            mappings: [],
            thresholds: {
              mode: 'absolute',
              steps: [
                {
                  color: 'transparent',
                  value: null,
                },
              ],
            },
            unit: 'bytes',
          },
          overrides: [],
        },
        options: {
          legend: {
            calcs: [],
            displayMode: 'list',
            placement: 'bottom',
            showLegend: true,
          },
          tooltip: {
            mode: 'multi',
            sort: 'desc',
          },
        },
      },
    ],
    refresh: c.dashboardRefresh,
    schemaVersion: 39,
    tags: c.dashboardTags,
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {
            selected: false,
            text: 'default',
            value: 'default',
          },
          hide: 0,
          includeAll: false,
          multi: false,
          options: [],
          refresh: 1,
          regex: '',
          skipUrlSync: false,
        },
        {
          name: 'job',
          label: 'Job',
          type: 'query',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          definition: 'label_values(skew_exporter_build_info, job)',
          query: {
            query: 'label_values(skew_exporter_build_info, job)',
            refId: 'PrometheusVariableQueryEditor-VariableQuery',
          },
          refresh: 2,
          regex: '',
          sort: 1,
          multi: true,
          includeAll: true,
          allValue: '.+',
          current: {
            selected: true,
            text: [
              'All',
            ],
            value: [
              '$__all',
            ],
          },
          options: [],
          hide: 0,
          skipUrlSync: false,
        },
        {
          name: 'instance',
          label: 'Instance',
          type: 'query',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          definition: 'label_values(skew_exporter_build_info{job=~"$job"}, instance)',
          query: {
            query: 'label_values(skew_exporter_build_info{job=~"$job"}, instance)',
            refId: 'PrometheusVariableQueryEditor-VariableQuery',
          },
          refresh: 2,
          regex: '',
          sort: 1,
          multi: true,
          includeAll: true,
          allValue: '.+',
          current: {
            selected: true,
            text: [
              'All',
            ],
            value: [
              '$__all',
            ],
          },
          options: [],
          hide: 0,
          skipUrlSync: false,
        },
        {
          name: 'source',
          label: 'Source',
          type: 'query',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          definition: 'label_values(skew_jwt_verifications_total{job=~"$job", instance=~"$instance"}, source)',
          query: {
            query: 'label_values(skew_jwt_verifications_total{job=~"$job", instance=~"$instance"}, source)',
            refId: 'PrometheusVariableQueryEditor-VariableQuery',
          },
          refresh: 2,
          regex: '',
          sort: 1,
          multi: true,
          includeAll: true,
          allValue: '.+',
          current: {
            selected: true,
            text: [
              'All',
            ],
            value: [
              '$__all',
            ],
          },
          options: [],
          hide: 0,
          skipUrlSync: false,
        },
        {
          name: 'issuer',
          label: 'Issuer',
          type: 'query',
          datasource: {
            type: 'prometheus',
            uid: '${datasource}',
          },
          definition: 'label_values(skew_jwt_verifications_total{job=~"$job", instance=~"$instance", source=~"$source"}, issuer)',
          query: {
            query: 'label_values(skew_jwt_verifications_total{job=~"$job", instance=~"$instance", source=~"$source"}, issuer)',
            refId: 'PrometheusVariableQueryEditor-VariableQuery',
          },
          refresh: 2,
          regex: '',
          sort: 1,
          multi: true,
          includeAll: true,
          allValue: '.+',
          current: {
            selected: true,
            text: [
              'All',
            ],
            value: [
              '$__all',
            ],
          },
          options: [],
          hide: 0,
          skipUrlSync: false,
        },
      ],
    },
    time: {
      from: 'now-6h',
      to: 'now',
    },
    timepicker: {},
    timezone: '',
    title: c.dashboardTitle,
    uid: c.dashboardUid,
    version: 1,
    weekStart: '',
  }
