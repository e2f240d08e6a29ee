//! The fetched state of an interaction, as far as the business rules need it.

/// Milliseconds since the Unix epoch.
pub type EpochMillis = i64;

/// One entry of the interaction's timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelineEntry {
    /// `startTime` (epoch ms).
    pub start: Option<EpochMillis>,
    /// `endTime` (epoch ms).
    pub end: Option<EpochMillis>,
}

/// The interaction as `GET /api/v2/interactions/{id}` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InteractionSnapshot {
    /// `type`: `voice`, `chat`, ...
    pub media_type: String,
    /// `state`: `completed`, `connected`, ...
    pub state: String,
    /// `dispositionCode.id`, when set.
    pub disposition_code: Option<String>,
    /// `wrapUpCode.id`, when set.
    pub wrap_up_code: Option<String>,
    /// `metadata.startTime`.
    pub started: Option<EpochMillis>,
    /// `metadata.endTime`.
    pub ended: Option<EpochMillis>,
    /// `timeline[]`, in the order the API returned it.
    pub timeline: Vec<TimelineEntry>,
}

impl InteractionSnapshot {
    /// The interaction's duration in milliseconds.
    ///
    /// The start is `metadata.startTime`, else the first timeline entry's start; the end is
    /// `metadata.endTime`, else the last timeline entry's end. When either is unknown the
    /// duration is 0, so an interaction of unknown length never passes a duration threshold.
    pub fn duration_ms(&self) -> i64 {
        let start = self
            .started
            .or_else(|| self.timeline.first().and_then(|entry| entry.start));
        let end = self
            .ended
            .or_else(|| self.timeline.last().and_then(|entry| entry.end));
        match (start, end) {
            (Some(start), Some(end)) => end.saturating_sub(start),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(start: Option<i64>, end: Option<i64>) -> TimelineEntry {
        TimelineEntry { start, end }
    }

    #[test]
    fn duration_comes_from_metadata_when_both_times_are_there() {
        let snapshot = InteractionSnapshot {
            started: Some(1_000),
            ended: Some(46_000),
            timeline: vec![entry(Some(0), Some(999_999))],
            ..Default::default()
        };
        assert_eq!(snapshot.duration_ms(), 45_000);
    }

    #[test]
    fn duration_falls_back_to_first_timeline_start_and_last_timeline_end() {
        let snapshot = InteractionSnapshot {
            timeline: vec![
                entry(Some(10_000), Some(20_000)),
                entry(Some(20_000), None),
                entry(Some(30_000), Some(75_000)),
            ],
            ..Default::default()
        };
        assert_eq!(snapshot.duration_ms(), 65_000);
    }

    #[test]
    fn a_missing_metadata_end_is_taken_from_the_timeline_alone() {
        let snapshot = InteractionSnapshot {
            started: Some(5_000),
            timeline: vec![entry(Some(0), Some(1_000)), entry(None, Some(40_000))],
            ..Default::default()
        };
        assert_eq!(snapshot.duration_ms(), 35_000);
    }

    #[test]
    fn duration_is_zero_when_no_times_are_known() {
        assert_eq!(InteractionSnapshot::default().duration_ms(), 0);
    }

    #[test]
    fn duration_is_zero_when_the_last_timeline_entry_has_no_end() {
        let snapshot = InteractionSnapshot {
            timeline: vec![entry(Some(0), Some(50_000)), entry(Some(50_000), None)],
            ..Default::default()
        };
        assert_eq!(snapshot.duration_ms(), 0);
    }

    #[test]
    fn an_end_before_the_start_gives_a_negative_duration() {
        let snapshot = InteractionSnapshot {
            started: Some(50_000),
            ended: Some(10_000),
            ..Default::default()
        };
        assert_eq!(snapshot.duration_ms(), -40_000);
    }
}
