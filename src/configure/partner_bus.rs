//! Configure's AWS side: the partner event source the integration makes, and the event bus that receives it.

use super::ConfigureError;
use crate::eventbridge::EventSources;
use std::time::Duration;

/// The partner event source and its bus, as EventBridge has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerStatus {
    /// The source's state (`PENDING`, `ACTIVE`, …); `None`: it has not appeared.
    pub source_state: Option<String>,
    /// True when a bus of the source's name exists (the source is associated).
    pub bus_associated: bool,
}

/// Reads the partner event source `name` and whether its bus exists.
pub async fn status(
    sources: &dyn EventSources,
    name: &str,
) -> Result<PartnerStatus, ConfigureError> {
    let source_state = sources.source_state(name).await?;
    let bus_associated = source_state.is_some() && sources.bus_exists(name).await?;
    Ok(PartnerStatus {
        source_state,
        bus_associated,
    })
}

/// Waits (at most `wait`, looking every `interval`) for the partner event source `name` to
/// appear, then creates its bus unless it exists; returns the bus's name (`EventBusName`).
pub async fn associate(
    sources: &dyn EventSources,
    name: &str,
    wait: Duration,
    interval: Duration,
) -> Result<String, ConfigureError> {
    let start = tokio::time::Instant::now();
    loop {
        match sources.source_state(name).await?.as_deref() {
            Some("DELETED") | None if start.elapsed().saturating_add(interval) > wait => {
                return Err(ConfigureError::SourceMissing(name.to_owned()));
            }
            Some("DELETED") | None => tokio::time::sleep(interval).await,
            Some(_) => break,
        }
    }
    if !sources.bus_exists(name).await? {
        sources.create_partner_bus(name).await?;
    }
    Ok(name.to_owned())
}
