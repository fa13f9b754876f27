//! Trends and anomalies: a series of counts (or sums) per period, the latest period judged against the
//! trailing mean and standard deviation of the ones before it. The deviation is floored at the Poisson
//! `√mean` (and at 1), so a quiet site whose history happens to be flat is not flagged for one extra event.

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

/// The length of one period of a series.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Hour,
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            other => Err(format!(
                "period '{other}' is not one of hour, day, week, month"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    fn back(self, t: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        match self {
            Self::Hour => t.checked_sub_signed(Duration::hours(i64::from(n))),
            Self::Day => t.checked_sub_signed(Duration::days(i64::from(n))),
            Self::Week => t.checked_sub_signed(Duration::weeks(i64::from(n))),
            Self::Month => t.checked_sub_months(Months::new(n)),
        }
    }
}

/// Period boundaries ending at `end`, oldest first: `periods + 1` instants in epoch milliseconds, so period
/// `i` is `[b[i], b[i + 1])` and the last one is the current period.
pub fn boundaries(end: DateTime<Utc>, period: Period, periods: u32) -> Result<Vec<i64>, String> {
    (0..=periods)
        .rev()
        .map(|n| {
            period
                .back(end, n)
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| {
                    format!(
                        "{periods} {}s before {end} is out of range",
                        period.as_str()
                    )
                })
        })
        .collect()
}

/// The period an instant falls in, if any.
pub fn period_of(bounds: &[i64], t_ms: i64) -> Option<usize> {
    let i = bounds.partition_point(|b| *b <= t_ms);
    (i > 0 && i < bounds.len()).then(|| i - 1)
}

/// The latest period of a series against its history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Assessment {
    pub current: f64,
    pub mean: f64,
    /// The history's own standard deviation (population).
    pub sd: f64,
    /// The deviation used for `z`: `sd` floored at `√mean` and at 1.
    pub sd_used: f64,
    pub z: f64,
    /// Periods in the history.
    pub periods: usize,
}

/// Judges the last value of `series` (oldest first) against the ones before it; `None` without history.
pub fn assess(series: &[f64]) -> Option<Assessment> {
    let (current, history) = series.split_last()?;
    if history.is_empty() {
        return None;
    }
    let n = history.len() as f64;
    let mean = history.iter().sum::<f64>() / n;
    let sd = (history.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let sd_used = sd.max(mean.sqrt()).max(1.0);
    Some(Assessment {
        current: *current,
        mean,
        sd,
        sd_used,
        z: (current - mean) / sd_used,
        periods: history.len(),
    })
}

/// When an assessment is an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalyRule {
    /// Standard deviations above the mean.
    pub threshold_sd: f64,
    /// The current period must reach at least this much, so one event on a quiet site is not news.
    pub min_current: f64,
}

impl Default for AnomalyRule {
    fn default() -> Self {
        Self {
            threshold_sd: 2.0,
            min_current: 3.0,
        }
    }
}

impl AnomalyRule {
    pub fn flags(&self, a: &Assessment) -> bool {
        a.z >= self.threshold_sd && a.current >= self.min_current
    }
}

/// "23 incidents within 10 km of Site 114 in the week to 2023-04-07 vs 6.1 ± 2.0 a week over 12 weeks".
pub fn describe(
    a: &Assessment,
    what: &str,
    place: &str,
    period: Period,
    end: DateTime<Utc>,
) -> String {
    let p = period.as_str();
    let to = match period {
        Period::Hour => end.format("%Y-%m-%d %H:%M UTC"),
        _ => end.format("%Y-%m-%d"),
    };
    format!(
        "{} {what} {place} in the {p} to {to} vs {:.1} ± {:.1} a {p} over {} {p}s",
        trim(a.current),
        a.mean,
        a.sd,
        a.periods
    )
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn periods_end_at_the_given_time() {
        let end = Utc
            .with_ymd_and_hms(2023, 5, 1, 0, 0, 0)
            .single()
            .expect("date");
        let b = boundaries(end, Period::Month, 3).expect("bounds");
        let feb = Utc
            .with_ymd_and_hms(2023, 2, 1, 0, 0, 0)
            .single()
            .expect("date");
        assert_eq!(b.first(), Some(&feb.timestamp_millis()));
        assert_eq!(b.last(), Some(&end.timestamp_millis()));
        assert_eq!(period_of(&b, feb.timestamp_millis()), Some(0));
        assert_eq!(period_of(&b, end.timestamp_millis() - 1), Some(2));
        assert_eq!(
            period_of(&b, end.timestamp_millis()),
            None,
            "the end is open"
        );
        assert_eq!(period_of(&b, feb.timestamp_millis() - 1), None);
        let w = boundaries(end, Period::Week, 2).expect("weeks");
        assert_eq!(w[1] - w[0], 7 * 86_400_000);
    }

    #[test]
    fn the_latest_period_is_judged_against_the_ones_before() {
        let a = assess(&[4.0, 6.0, 5.0, 7.0, 8.0, 23.0]).expect("history");
        assert_eq!(a.periods, 5);
        assert!((a.mean - 6.0).abs() < 1e-12);
        assert!((a.sd - 2f64.sqrt()).abs() < 1e-12);
        assert!((a.sd_used - 6f64.sqrt()).abs() < 1e-12, "Poisson floor");
        assert!(AnomalyRule::default().flags(&a));
        let quiet = assess(&[0.0, 0.0, 0.0, 2.0]).expect("history");
        assert_eq!(quiet.sd_used, 1.0);
        assert!(!AnomalyRule::default().flags(&quiet), "below the minimum");
        assert_eq!(assess(&[5.0]), None);
        let end = Utc
            .with_ymd_and_hms(2023, 4, 7, 0, 0, 0)
            .single()
            .expect("date");
        assert_eq!(
            describe(
                &a,
                "incidents",
                "within 10 km of Site 114",
                Period::Week,
                end
            ),
            "23 incidents within 10 km of Site 114 in the week to 2023-04-07 vs 6.0 ± 1.4 a week over 5 weeks"
        );
    }
}
