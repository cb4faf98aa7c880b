//! `schedule:` — cron expressions read in a time zone, and the next time a
//! chain is due (a pure function of "now", so tests need no clock). The
//! loop that starts scheduled runs is `serve`'s.
//!
//! Time zones come from the system's IANA database (`/usr/share/zoneinfo`,
//! or `TZDIR`), with a copy built into pytopus for systems without one (slim
//! containers). jiff reads a zone's rules only when a chain names it; the
//! tables chrono-tz compiled in cost every start of pytopus ~29,000
//! relocations (see bench/README.md).

use std::str::FromStr;
use std::time::SystemTime;

use croner::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A parsed `schedule:` with its `timezone:` (UTC when none is given).
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
    tz: TimeZone,
    tz_name: String,
}

impl Schedule {
    /// Five fields (minute hour day-of-month month day-of-week), or six with
    /// seconds first; names (`MON`, `JAN`) and `@daily`-style nicknames work.
    pub fn parse(expr: &str, tz: Option<Zone>) -> Result<Schedule, String> {
        let cron = Cron::from_str(expr.trim()).map_err(|e| e.to_string())?;
        let Zone { tz, name } = tz.unwrap_or_else(|| Zone {
            tz: TimeZone::UTC,
            name: "UTC".into(),
        });
        let schedule = Schedule {
            expr: expr.trim().to_string(),
            cron,
            tz,
            tz_name: name,
        };
        // A pattern that can never match (`0 0 31 2 *`) is a mistake, not a
        // schedule that waits forever.
        if schedule.next_after(SystemTime::UNIX_EPOCH).is_none() {
            return Err("it never matches a date".into());
        }
        Ok(schedule)
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn timezone(&self) -> &str {
        &self.tz_name
    }

    /// The first time strictly after `now` that the schedule is due.
    pub fn next_after(&self, now: SystemTime) -> Option<SystemTime> {
        let local = Timestamp::try_from(now).ok()?.to_zoned(self.tz.clone());
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        Some(SystemTime::from(next.timestamp()))
    }
}

/// A time zone and the name it was given by.
#[derive(Debug, Clone)]
pub struct Zone {
    tz: TimeZone,
    name: String,
}

/// An IANA time zone name (`Europe/Paris`, `UTC`).
pub fn parse_timezone(name: &str) -> Result<Zone, String> {
    match jiff::tz::db().get(name) {
        Ok(tz) => Ok(Zone {
            tz,
            name: name.to_string(),
        }),
        Err(_) => Err(format!("`{name}` is not a known time zone")),
    }
}

/// The known time zone nearest to `name`, for a "did you mean".
pub fn suggest_timezone(name: &str) -> Option<String> {
    let names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        .collect();
    crate::diagnostic::suggest(name, names.iter().map(String::as_str)).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        rfc3339.parse::<Timestamp>().expect("test time").into()
    }

    fn show(t: SystemTime) -> String {
        Timestamp::try_from(t).expect("in range").to_string()
    }

    #[test]
    fn every_fifteen_minutes() {
        let s = Schedule::parse("*/15 * * * *", None).unwrap();
        let next = s.next_after(at("2024-05-01T10:07:30Z")).unwrap();
        assert_eq!(show(next), "2024-05-01T10:15:00Z");
        // Strictly after: at 10:15:00 exactly, the next one is 10:30.
        let after = s.next_after(next).unwrap();
        assert_eq!(show(after), "2024-05-01T10:30:00Z");
    }

    #[test]
    fn read_in_its_time_zone() {
        let tz = parse_timezone("Europe/Paris").unwrap();
        let s = Schedule::parse("0 9 * * *", Some(tz)).unwrap();
        // 09:00 in Paris is 07:00 UTC in summer (CEST) and 08:00 in winter.
        let summer = s.next_after(at("2024-07-01T00:00:00Z")).unwrap();
        assert_eq!(show(summer), "2024-07-01T07:00:00Z");
        let winter = s.next_after(at("2024-12-01T00:00:00Z")).unwrap();
        assert_eq!(show(winter), "2024-12-01T08:00:00Z");
    }

    #[test]
    fn seconds_field_and_weekdays() {
        let s = Schedule::parse("30 0 12 * * MON", None).unwrap();
        // 2024-05-01 is a Wednesday; the next Monday is the 6th.
        let next = s.next_after(at("2024-05-01T00:00:00Z")).unwrap();
        assert_eq!(show(next), "2024-05-06T12:00:30Z");
    }

    #[test]
    fn bad_expressions_say_why() {
        assert!(Schedule::parse("*/15 * * *", None).is_err());
        assert!(Schedule::parse("61 * * * *", None).is_err());
        assert!(Schedule::parse("every monday", None).is_err());
        let never = Schedule::parse("0 0 31 2 *", None).unwrap_err();
        assert!(never.contains("never"), "{never}");
    }

    #[test]
    fn time_zone_names() {
        assert!(parse_timezone("Europe/Pariss").is_err());
        assert_eq!(
            suggest_timezone("Europe/Pariss").as_deref(),
            Some("Europe/Paris")
        );
    }
}
