// History screens' data against a real history filled by a simulated session, and calendar days
// across daylight-saving changes (Europe/Berlin: 2026-03-29 lasts 23 h, 2026-10-25 25 h).
import Foundation
import StressBeatAppLogic
import StressBeatCore
import XCTest

final class HistoryTests: XCTestCase {
    private func berlin() -> Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "Europe/Berlin")!
        return c
    }

    private func utc(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

    func testLocalDaysAcrossDaylightSavingChanges() {
        let cal = berlin()
        let spring = LocalDays.last(3, endingWith: utc("2026-03-30T10:00:00Z"), calendar: cal)
        XCTAssertEqual(spring.map { $0.date }, ["2026-03-28", "2026-03-29", "2026-03-30"])
        XCTAssertEqual(spring.map { ($0.endMs - $0.startMs) / 3_600_000 }, [24, 23, 24])
        XCTAssertEqual(spring[1].startMs, Int64(utc("2026-03-28T23:00:00Z").timeIntervalSince1970 * 1000))
        XCTAssertEqual(spring[2].startMs, Int64(utc("2026-03-29T22:00:00Z").timeIntervalSince1970 * 1000))
        XCTAssert(zip(spring, spring.dropFirst()).allSatisfy { $0.endMs == $1.startMs }, "days tile the time")
        // 00:30 local on 2026-10-26 is still 2026-10-25 in UTC: the calendar's day, not UTC's
        let autumn = LocalDays.last(2, endingWith: utc("2026-10-25T23:30:00Z"), calendar: cal)
        XCTAssertEqual(autumn.map { $0.date }, ["2026-10-25", "2026-10-26"])
        XCTAssertEqual(autumn.map { ($0.endMs - $0.startMs) / 3_600_000 }, [25, 24])
        XCTAssertEqual(LocalDays.last(0, endingWith: Date(), calendar: cal), [])
    }

    func testTimelineGapsBreakTheLine() {
        func p(_ s: Int64, windows: UInt32, score: Double?) -> TimelinePoint {
            TimelinePoint(startMs: s * 1000, endMs: (s + 60) * 1000, windows: windows, meanHrBpm: windows > 0 ? 70 : nil,
                          meanScore: score, maxScore: score)
        }
        // 0, 60: data; 120 missing (no windows); 180: data; 240: windows but none scored; 300: data
        let series = TimelineSeries(points: [p(0, windows: 12, score: 30), p(60, windows: 12, score: 40),
                                             p(180, windows: 12, score: 50), p(240, windows: 12, score: nil),
                                             p(300, windows: 12, score: 20)])
        XCTAssertEqual(series.score.map { $0.value }, [30, 40, 50, 20])
        XCTAssertEqual(series.score.map { $0.segment }, [0, 0, 1, 2])
        XCTAssertEqual(series.heartRate.map { $0.segment }, [0, 0, 1, 1, 1], "heart rate is there at 240")
        XCTAssertEqual(series.score[0].date, Date(timeIntervalSince1970: 30))
    }

    func testSinglePointSegmentsAreFound() {
        func p(_ s: Double, _ segment: Int) -> ChartPoint { ChartPoint(date: Date(timeIntervalSince1970: s), value: 1, segment: segment) }
        XCTAssertEqual(TimelineSeries.singlePointSegments([p(0, 0), p(60, 0), p(180, 1), p(300, 2), p(360, 2), p(480, 3)]), [1, 3])
        XCTAssertEqual(TimelineSeries.singlePointSegments([]), [])
        // from the core's buckets: a lone scored bucket between two gaps
        let series = TimelineSeries(points: [
            TimelinePoint(startMs: 0, endMs: 60_000, windows: 12, meanHrBpm: 70, meanScore: 30, maxScore: 30),
            TimelinePoint(startMs: 120_000, endMs: 180_000, windows: 12, meanHrBpm: 70, meanScore: 40, maxScore: 40),
            TimelinePoint(startMs: 180_000, endMs: 240_000, windows: 12, meanHrBpm: 70, meanScore: 50, maxScore: 50),
        ])
        XCTAssertEqual(series.score.map { $0.segment }, [0, 1, 1])
        XCTAssertEqual(TimelineSeries.singlePointSegments(series.score), [0])
    }

    private func alert(_ id: Int64, acknowledged: Bool = false) -> StoredAlertItem {
        StoredAlertItem(StoredAlert(id: id, sessionId: 1, atMs: id * 1000, kind: .batteryLow, warning: true, reason: "r",
                                    acknowledged: acknowledged))
    }

    /// A stored alert is shown with the core's kind and severity as they are.
    func testStoredAlertItemKeepsTheCoresKindAndSeverity() {
        let info = StoredAlertItem(StoredAlert(id: 5, sessionId: 2, atMs: 7_000, kind: .signalBack, warning: false,
                                               reason: "Signal back.", acknowledged: true))
        XCTAssertEqual(info.id, 5)
        XCTAssertEqual(info.atMs, 7_000)
        XCTAssertEqual(info.kind, .signalBack)
        XCTAssertFalse(info.warning, "information, not a warning")
        XCTAssertEqual(info.reason, "Signal back.")
        XCTAssertTrue(info.acknowledged)
        let warning = alert(1)
        XCTAssertEqual(warning.kind, .batteryLow)
        XCTAssertTrue(warning.warning)
        XCTAssertEqual(UserText.alertTitle(info.kind), "Signal is back")
    }

    /// An acknowledgement marks the alert by id in the list shown now (a refresh may have
    /// replaced the list since the call began), and nothing else.
    func testAcknowledgementAppliesToTheCurrentList() {
        let before = [alert(3), alert(2), alert(1)]
        // a refresh finished meanwhile: a new alert 4, alert 1 retained no more
        let current = [alert(4), alert(3), alert(2)]
        let marked = StoredAlertItem.markingAcknowledged([2], in: current)
        XCTAssertEqual(marked.map { $0.id }, [4, 3, 2], "the refreshed list is kept")
        XCTAssertEqual(marked.filter { $0.acknowledged }.map { $0.id }, [2])
        XCTAssertEqual(StoredAlertItem.markingAcknowledged([9], in: before), before, "an id not shown changes nothing")
        XCTAssertEqual(StoredAlertItem.markingAcknowledged([], in: current), current)
    }

    /// Overlapping refreshes finish in any order: only the newest started is shown; an
    /// acknowledgement completed while it ran is applied to its result (it may have read the
    /// history before the acknowledgement was written), one completed before it started is not
    /// needed (already written).
    func testRefreshGateDropsStaleResultsAndKeepsAcknowledgements() {
        var gate = HistoryRefreshGate()
        let first = gate.begin()
        XCTAssertTrue(gate.isCurrent(first))
        let second = gate.begin()
        XCTAssertFalse(gate.isCurrent(first))
        gate.acknowledged(2)
        let newer = gate.finish(second, alerts: [alert(3), alert(2), alert(1)])
        XCTAssertEqual(newer?.filter { $0.acknowledged }.map { $0.id }, [2], "acknowledged while it ran")
        XCTAssertNil(gate.finish(first, alerts: [alert(2), alert(1)]), "an older refresh finishing last is dropped")

        let third = gate.begin()
        let result = [alert(5), alert(2, acknowledged: true)]
        XCTAssertEqual(gate.finish(third, alerts: result), result, "acknowledgements before it started are in the history")
        XCTAssertEqual(gate.generation, third)
    }

    /// A simulated session whose strap goes away for 90 s: the timeline has a hole there, the
    /// last days (Berlin's calendar) hold its windows, its alerts are listed and acknowledged,
    /// and it exports.
    func testRealHistoryTimelineDaysAlertsAndExport() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        try monitor.start(source: .simulator(minutes: 6, seed: 7, stress: [], faults: "disconnect=2m/90s",
                                             realtime: false, heartRateOnly: false))
        try monitor.waitUntilFinished()
        let repo = HistoryRepository(monitor: monitor)
        let session = try XCTUnwrap(try repo.sessions().first)
        XCTAssertEqual(session.endReason, .sourceEnded)
        XCTAssertEqual(UserText.endReason(of: session), "The recording or simulation ended.")
        let start = Date(timeIntervalSince1970: Double(session.startedAtMs) / 1000)
        let end = Date(timeIntervalSince1970: Double(try XCTUnwrap(session.endedAtMs)) / 1000)
        // 20 s buckets from 10 min before to 10 min after
        let from = start.addingTimeInterval(-600), to = end.addingTimeInterval(600)
        let points = UInt32((to.timeIntervalSince(from) / 20).rounded(.up))
        let series = try repo.timeline(from: from, to: to, points: points)
        XCTAssertFalse(series.heartRate.isEmpty)
        XCTAssert(series.heartRate.allSatisfy { $0.date >= start && $0.date <= end.addingTimeInterval(20) })
        let segments = Set(series.heartRate.map { $0.segment })
        XCTAssertGreaterThanOrEqual(segments.count, 2, "the 90 s without the strap break the line")
        let raw = try monitor.timeline(fromMs: Int64(from.timeIntervalSince1970 * 1000),
                                       toMs: Int64(to.timeIntervalSince1970 * 1000), points: points)
        XCTAssertEqual(raw.reduce(0) { $0 + $1.windows }, session.windows)

        let cal = berlin()
        let bars = try repo.dailyBars(days: 3, now: Date(), calendar: cal)
        XCTAssertEqual(bars.count, 3)
        XCTAssertEqual(bars.last?.date, LocalDays.label(Date(), cal))
        XCTAssertEqual(bars.reduce(0) { $0 + $1.windows }, session.windows, "the session lies in the last days")
        XCTAssert(bars.contains { $0.hasData && $0.meanHeartRate != nil })
        // days across daylight-saving changes go to the core as the calendar bounds them
        let dst = LocalDays.last(2, endingWith: utc("2026-03-29T12:00:00Z"), calendar: cal)
            + LocalDays.last(1, endingWith: utc("2026-10-25T12:00:00Z"), calendar: cal)
        let summaries = try monitor.dailySummariesForDays(days: dst)
        XCTAssertEqual(summaries.map { $0.date }, ["2026-03-28", "2026-03-29", "2026-10-25"])

        var alerts = try repo.alerts(since: start.addingTimeInterval(-60))
        XCTAssert(alerts.contains { $0.kind == .strapDisconnected && $0.warning }, "\(alerts)")
        XCTAssert(alerts.contains { $0.kind == .strapReconnected && !$0.warning }, "\(alerts)")
        XCTAssert(alerts.allSatisfy { !$0.acknowledged }, "\(alerts)")
        let target = try XCTUnwrap(alerts.first { $0.kind == .strapDisconnected })
        let (found, updated) = try repo.acknowledge(target.id, in: alerts)
        XCTAssertTrue(found)
        XCTAssertEqual(updated.filter { $0.acknowledged }.map { $0.id }, [target.id])
        alerts = try repo.alerts(since: start.addingTimeInterval(-60))
        XCTAssertEqual(alerts, updated, "the stored list says the same")
        XCTAssertFalse(try repo.acknowledge(Int64.max, in: alerts).found)
        let other = try XCTUnwrap(alerts.first { !$0.acknowledged })
        XCTAssertTrue(try repo.acknowledge(other.id))
        XCTAssertEqual(try repo.alerts(since: start.addingTimeInterval(-60)),
                       StoredAlertItem.markingAcknowledged([other.id], in: alerts), "acknowledged by id, stored")

        let url = try repo.export(session: session, format: .windowsCsv, to: dir, calendar: cal)
        XCTAssert(url.lastPathComponent.hasPrefix("stressbeat-"), url.lastPathComponent)
        let csv = try String(contentsOf: url, encoding: .utf8)
        XCTAssertGreaterThanOrEqual(csv.split(whereSeparator: \.isNewline).count, Int(session.windows) + 1,
                                    "a header and a row per window")
        try monitor.shutdown()
    }

    static let allTests = [
        ("testLocalDaysAcrossDaylightSavingChanges", testLocalDaysAcrossDaylightSavingChanges),
        ("testTimelineGapsBreakTheLine", testTimelineGapsBreakTheLine),
        ("testSinglePointSegmentsAreFound", testSinglePointSegmentsAreFound),
        ("testStoredAlertItemKeepsTheCoresKindAndSeverity", testStoredAlertItemKeepsTheCoresKindAndSeverity),
        ("testAcknowledgementAppliesToTheCurrentList", testAcknowledgementAppliesToTheCurrentList),
        ("testRefreshGateDropsStaleResultsAndKeepsAcknowledgements", testRefreshGateDropsStaleResultsAndKeepsAcknowledgements),
        ("testRealHistoryTimelineDaysAlertsAndExport", testRealHistoryTimelineDaysAlertsAndExport),
    ]
}
