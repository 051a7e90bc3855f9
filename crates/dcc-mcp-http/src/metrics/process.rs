//! The standard `process_*` metrics of the process the server lives in (often a DCC application).
//!
//! Why a maintained collector instead of our own: the `prometheus` crate's `process` feature
//! reads `/proc/self` through the `procfs` crate and exports the names every Prometheus dashboard
//! and alert already knows (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
//! `process_start_time_seconds`, plus `process_threads`). It exists on Linux only; on every other
//! target (Windows, macOS) [`register`] registers nothing, the build is unchanged, and `/metrics`
//! simply carries no `process_*` families (docs/guide/metrics.md says so).
//!
//! The collector is registered in the server's own `prometheus::Registry`, next to the engine, so
//! it is read at scrape time like everything else. Two servers in one process both export the same
//! process figures, which is correct: they describe the same process.

/// Registers the process collector in `registry` when the target supports it; returns `true` when
/// `process_*` families will be exported.
#[cfg(target_os = "linux")]
pub(crate) fn register(registry: &prometheus::Registry) -> Result<bool, prometheus::Error> {
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    Ok(true)
}

/// Registers nothing: `process_*` metrics come from `/proc`, which only Linux has.
#[cfg(not(target_os = "linux"))]
pub(crate) fn register(_registry: &prometheus::Registry) -> Result<bool, prometheus::Error> {
    Ok(false)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The six standard families are gathered, with plausible values for this very process.
    #[test]
    fn exports_the_standard_families_for_this_process() {
        let registry = prometheus::Registry::new();
        assert!(register(&registry).unwrap());
        let families = registry.gather();
        let value = |name: &str| {
            let family = families
                .iter()
                .find(|f| f.name() == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            let metric = &family.get_metric()[0];
            if family.get_field_type() == prometheus::proto::MetricType::COUNTER {
                metric.get_counter().get_value()
            } else {
                metric.get_gauge().get_value()
            }
        };
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        let open = value("process_open_fds");
        assert!(open > 0.0 && open <= value("process_max_fds"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = value("process_start_time_seconds");
        assert!(start > 0.0 && start <= now);
        assert!(value("process_cpu_seconds_total") >= 0.0);
    }

    /// A second registration in the same registry is refused (not silently duplicated).
    #[test]
    fn registering_twice_is_an_error() {
        let registry = prometheus::Registry::new();
        register(&registry).unwrap();
        assert!(register(&registry).is_err());
    }
}
