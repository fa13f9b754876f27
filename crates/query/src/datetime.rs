use chrono::{DateTime, Utc};
use geoconsole_model::{TimeSpan, parse_time_value};

use crate::{QueryError, QueryErrorKind, QueryResult};

/// The OGC API `datetime` parameter: an instant, or an interval whose ends may be open (`..` or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTimeFilter {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl DateTimeFilter {
    /// Parses `2024-05-01T00:00:00Z`, `2024-05-01/2024-05-08`, `../2024-05-08`, `2024-05-01/..`, `2024-05-01/`.
    pub fn parse(text: &str) -> QueryResult<Self> {
        let invalid = |why: String| {
            QueryError::new(
                QueryErrorKind::InvalidParameter,
                format!("datetime '{text}': {why}"),
            )
        };
        let read = |part: &str| -> QueryResult<Option<DateTime<Utc>>> {
            let part = part.trim();
            if part.is_empty() || part == ".." {
                return Ok(None);
            }
            parse_time_value(&serde_json::Value::String(part.to_string()))
                .map(Some)
                .map_err(|e| invalid(e.message().to_string()))
        };
        match text.split_once('/') {
            None => {
                let at = read(text)?.ok_or_else(|| invalid("an instant cannot be open".into()))?;
                Ok(Self {
                    start: Some(at),
                    end: Some(at),
                })
            }
            Some((from, to)) => {
                let (start, end) = (read(from)?, read(to)?);
                if start.is_none() && end.is_none() {
                    return Err(invalid("both ends of the interval are open".into()));
                }
                if let (Some(s), Some(e)) = (start, end)
                    && e < s
                {
                    return Err(invalid("interval ends before it starts".into()));
                }
                Ok(Self { start, end })
            }
        }
    }

    pub fn overlaps(&self, span: &TimeSpan) -> bool {
        span.overlaps(self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_instants_and_open_intervals() {
        let instant = DateTimeFilter::parse("2024-05-01T00:00:00Z").unwrap();
        assert_eq!(instant.start, instant.end);
        let open_start = DateTimeFilter::parse("../2024-05-08").unwrap();
        assert!(open_start.start.is_none() && open_start.end.is_some());
        let open_end = DateTimeFilter::parse("2024-05-01/").unwrap();
        assert!(open_end.start.is_some() && open_end.end.is_none());
        assert!(DateTimeFilter::parse("../..").is_err());
        assert!(DateTimeFilter::parse("2024-05-08/2024-05-01").is_err());
        assert!(DateTimeFilter::parse("soon").is_err());
    }

    #[test]
    fn interval_overlap_counts_touching_ends() {
        let f = DateTimeFilter::parse("2024-05-01/2024-05-02").unwrap();
        let at = |s: &str| parse_time_value(&serde_json::Value::String(s.into())).unwrap();
        assert!(f.overlaps(&TimeSpan::instant(at("2024-05-02"))));
        assert!(!f.overlaps(&TimeSpan::instant(at("2024-05-03"))));
        assert!(f.overlaps(&TimeSpan::interval(at("2024-04-01"), at("2024-05-01")).unwrap()));
    }
}
