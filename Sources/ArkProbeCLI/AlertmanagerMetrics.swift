import Alertmanager
import Metrics

/// The Alertmanager push's counters as metric families, one series per URL
/// (`AgentConfiguration.extraMetrics` of `run --alertmanager --metrics`).
func appendAlertmanagerMetrics(_ counters: [AlertmanagerCounters], to text: inout MetricsText) {
    let families: [(name: String, type: MetricType, help: String, value: (AlertmanagerCounters) -> UInt64)] = [
        ("ark_probe_alertmanager_alerts_sent_total", .counter,
         "Alerts in POSTs Alertmanager accepted, re-sends included.", \.alertsSent),
        ("ark_probe_alertmanager_posts_sent_total", .counter, "POSTs Alertmanager accepted.", \.postsSent),
        ("ark_probe_alertmanager_failed_attempts_total", .counter,
         "POSTs that failed (no connection, timeout, 5xx) and were retried.", \.failedAttempts),
        ("ark_probe_alertmanager_rejected_posts_total", .counter, "POSTs Alertmanager refused with a 4xx.",
         \.rejectedPosts),
        ("ark_probe_alertmanager_dropped_notifications_total", .counter,
         "Notifications lost: the queue was full, or too many alerts were tracked.", \.droppedNotifications),
        ("ark_probe_alertmanager_pending_alerts", .gauge,
         "Alerts whose current state this Alertmanager does not have yet.", \.pendingAlerts),
    ]
    for family in families {
        text.family(family.name, family.type, help: family.help)
        for entry in counters {
            text.sample(family.name, labels: [("url", entry.url.description)], family.value(entry))
        }
    }
}
