//! Prometheus alerting rules from a service's SLO (prometheus-service's configure-monitoring).
