//! HAProxy, the real load balancer the MCP scale-out test puts in front of
//! three replicas.

use std::path::PathBuf;

use crate::{Stop, apt_install};

/// `ATP_HAPROXY`, else Debian's path; installed from Debian's package when
/// missing.
pub(crate) fn ready() -> Result<(), Stop> {
    let haproxy = std::env::var_os("ATP_HAPROXY")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("/usr/sbin/haproxy"), PathBuf::from);
    if !haproxy.exists() {
        apt_install(&["haproxy"], "the MCP scale-out test needs HAProxy")?;
    }
    if haproxy.exists() {
        println!("== HAProxy: {}", haproxy.display());
        Ok(())
    } else {
        Err(Stop(format!(
            "no {} after installing: set ATP_HAPROXY",
            haproxy.display()
        )))
    }
}
