// History screens' data: the stress timeline as chart series with gaps, the last N calendar
// days (23/25 h at a daylight-saving change) as daily bars, stored alerts with acknowledge,
// sessions with export. Blocking calls into the core: run them off the main actor.
import Foundation
import StressBeatCore

/// One point of a chart line; points of the same `segment` are joined, a new segment starts
/// after a gap (Swift Charts: `.foregroundStyle(by:)`/`series:` per segment).
public struct ChartPoint: Equatable, Sendable, Identifiable {
    /// Bucket middle.
    public var date: Date
    public var value: Double
    public var segment: Int
    public var id: Date { date }

    public init(date: Date, value: Double, segment: Int) {
        self.date = date
        self.value = value
        self.segment = segment
    }
}

/// The stress timeline as chart lines.
public struct TimelineSeries: Equatable, Sendable {
    /// Mean stress score per bucket (0–100).
    public var score: [ChartPoint]
    /// Highest score per bucket.
    public var maxScore: [ChartPoint]
    /// Mean heart rate per bucket, bpm.
    public var heartRate: [ChartPoint]

    /// The core returns only buckets that hold windows: a bucket missing between two points
    /// (no data: the strap was off) or a bucket without a value (no window scored) breaks the
    /// line there instead of drawing through it.
    public init(points: [TimelinePoint]) {
        score = Self.line(points) { $0.meanScore }
        maxScore = Self.line(points) { $0.maxScore }
        heartRate = Self.line(points) { $0.meanHrBpm }
    }

    /// The segments of `line` that hold a single point: a line mark draws nothing for them, so
    /// the chart marks them with a point (a lone bucket between two gaps).
    public static func singlePointSegments(_ line: [ChartPoint]) -> Set<Int> {
        var counts: [Int: Int] = [:]
        for p in line { counts[p.segment, default: 0] += 1 }
        return Set(counts.filter { $0.value == 1 }.keys)
    }

    static func line(_ points: [TimelinePoint], _ value: (TimelinePoint) -> Double?) -> [ChartPoint] {
        var out: [ChartPoint] = []
        var segment = 0
        var previousEnd: Int64?
        var broken = false
        for p in points.sorted(by: { $0.startMs < $1.startMs }) {
            let contiguous = previousEnd.map { p.startMs <= $0 } ?? true
            previousEnd = p.endMs
            guard p.windows > 0, let v = value(p), v.isFinite else {
                broken = true
                continue
            }
            if !out.isEmpty && (broken || !contiguous) { segment += 1 }
            broken = false
            let mid = Double(p.startMs + p.endMs) / 2_000
            out.append(ChartPoint(date: Date(timeIntervalSince1970: mid), value: v, segment: segment))
        }
        return out
    }
}

/// Local calendar days for `dailySummariesForDays`.
public enum LocalDays {
    /// The `count` days ending with the day of `date`, oldest first, bounded by `calendar`
    /// (its time zone): a day across a daylight-saving change lasts 23 or 25 hours.
    public static func last(_ count: Int, endingWith date: Date, calendar: Calendar) -> [LocalDay] {
        guard count > 0 else { return [] }
        let today = calendar.startOfDay(for: date)
        return (0..<count).reversed().compactMap { back -> LocalDay? in
            guard let start = calendar.date(byAdding: .day, value: -back, to: today),
                  let end = calendar.date(byAdding: .day, value: 1, to: start) else { return nil }
            return LocalDay(date: label(start, calendar), startMs: ms(start), endMs: ms(end))
        }
    }

    /// `YYYY-MM-DD` of `date` in `calendar` (no DateFormatter: independent of the locale).
    public static func label(_ date: Date, _ calendar: Calendar) -> String {
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        func pad(_ v: Int?, _ width: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
    }

    static func ms(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
}

/// One bar of the daily chart.
public struct DailyBar: Equatable, Sendable, Identifiable {
    public var date: String
    /// Windows stored that day.
    public var windows: UInt32
    public var hasData: Bool
    public var meanScore: Double?
    public var maxScore: Double?
    public var highMinutes: Double
    public var alerts: UInt32
    public var meanHeartRate: Double?
    public var id: String { date }

    public init(_ d: DailySummary) {
        date = d.date
        windows = d.windows
        hasData = d.windows > 0
        meanScore = d.meanScore
        maxScore = d.maxScore
        highMinutes = d.highMinutes
        alerts = d.alerts
        meanHeartRate = d.meanHrBpm
    }
}

/// A stored alert for the Alerts list (the core leaves out kinds it does not know).
public struct StoredAlertItem: Equatable, Sendable, Identifiable {
    public var id: Int64
    public var atMs: Int64
    public var kind: AlertKind
    public var warning: Bool
    public var reason: String
    public var acknowledged: Bool

    public init(_ a: StoredAlert) {
        id = a.id
        atMs = a.atMs
        kind = a.kind
        warning = a.warning
        reason = a.reason
        acknowledged = a.acknowledged
    }

    /// `list` with the alerts whose id is in `ids` marked as seen (the others as they are): an
    /// acknowledgement is applied to the list shown now, not to a copy taken before the call (a
    /// refresh may have replaced the list meanwhile).
    public static func markingAcknowledged(_ ids: Set<Int64>, in list: [StoredAlertItem]) -> [StoredAlertItem] {
        guard !ids.isEmpty else { return list }
        return list.map { var a = $0; if ids.contains(a.id) { a.acknowledged = true }; return a }
    }
}

/// The history queries the screens make, mapped to UI models. Blocking: call off the main actor.
public struct HistoryRepository: Sendable {
    public let monitor: StressMonitor
    public init(monitor: StressMonitor) { self.monitor = monitor }

    /// The stress timeline of `[from, to)` in at most `points` buckets.
    public func timeline(from: Date, to: Date, points: UInt32 = 96) throws -> TimelineSeries {
        TimelineSeries(points: try monitor.timeline(fromMs: LocalDays.ms(from), toMs: LocalDays.ms(to), points: points))
    }

    /// Daily bars of the last `count` days of `calendar` ending with `now`'s day, oldest first
    /// (days without data too).
    public func dailyBars(days count: Int, now: Date = Date(), calendar: Calendar = .current) throws -> [DailyBar] {
        try monitor.dailySummariesForDays(days: LocalDays.last(count, endingWith: now, calendar: calendar)).map(DailyBar.init)
    }

    /// Stored alerts, newest first.
    public func alerts(since: Date, limit: UInt32 = 200) throws -> [StoredAlertItem] {
        try monitor.alerts(fromMs: LocalDays.ms(since), toMs: Int64.max, limit: limit).map(StoredAlertItem.init)
    }

    /// Mark alert `id` as seen; `false` when there was no such alert (retention deleted it).
    public func acknowledge(_ id: Int64) throws -> Bool {
        try monitor.acknowledgeAlert(alertId: id)
    }

    /// Mark alert `id` as seen; `list` as it is afterwards (newest first). `false` in `.0` when
    /// there was no such alert (retention deleted it).
    public func acknowledge(_ id: Int64, in list: [StoredAlertItem]) throws -> (found: Bool, alerts: [StoredAlertItem]) {
        let found = try acknowledge(id)
        return (found, found ? StoredAlertItem.markingAcknowledged([id], in: list) : list)
    }

    /// Stored sessions, newest first.
    public func sessions(limit: UInt32 = 50) throws -> [SessionSummary] {
        try monitor.sessions(limit: limit)
    }

    /// Write a session to `directory` for sharing; returns the file. The name holds the date and
    /// the local session number only.
    public func export(session: SessionSummary, format: ExportFormat, to directory: URL,
                       calendar: Calendar = .current) throws -> URL {
        let day = LocalDays.label(Date(timeIntervalSince1970: Double(session.startedAtMs) / 1000), calendar)
        let ext: String
        let what: String
        switch format {
        case .windowsCsv: ext = "csv"; what = "stress"
        case .rrCsv: ext = "csv"; what = "rr"
        case .edf: ext = "edf"; what = "ecg"
        }
        let url = directory.appendingPathComponent("stressbeat-\(day)-session\(session.id)-\(what).\(ext)")
        _ = try monitor.exportSession(sessionId: session.id, format: format, path: url.path)
        return url
    }
}

/// Orders overlapping history refreshes (each reads the history off the main actor; they may
/// finish in any order) and acknowledgements made while one runs. On the main actor:
/// `begin()` when a refresh starts, `finish(_:alerts:)` with its result: `nil` for a result older
/// than the newest refresh started (drop it: a newer one is coming), else its alerts with the
/// acknowledgements that completed since it started applied (it may have read the history before
/// they were written). `acknowledged(_:)` when an acknowledgement completes.
public struct HistoryRefreshGate: Sendable {
    public private(set) var generation: UInt64 = 0
    /// Alerts acknowledged since the newest refresh started.
    private var acknowledgedSinceStart: Set<Int64> = []

    public init() {}

    /// A refresh starts: its ticket. (An acknowledgement completed before now was written before
    /// this refresh reads the history.)
    public mutating func begin() -> UInt64 {
        generation &+= 1
        acknowledgedSinceStart = []
        return generation
    }

    /// Whether the refresh with `ticket` is the newest started (its result or error is shown).
    public func isCurrent(_ ticket: UInt64) -> Bool { ticket == generation }

    /// An acknowledgement completed (the caller marks it in the list shown now too).
    public mutating func acknowledged(_ id: Int64) { acknowledgedSinceStart.insert(id) }

    /// The refresh with `ticket` finished with `alerts`: what to show, or `nil` to drop it.
    public func finish(_ ticket: UInt64, alerts: [StoredAlertItem]) -> [StoredAlertItem]? {
        guard isCurrent(ticket) else { return nil }
        return StoredAlertItem.markingAcknowledged(acknowledgedSinceStart, in: alerts)
    }
}
