// XCTest cases for the uniffi-generated Swift bindings (module StressBeatCore), calling the real
// Rust core (libstressbeat_core.so). Run on Linux in the Swift chroot: scripts/test-swift.sh.
import Foundation
import StressBeatCore
import XCTest

final class AnalyzeRecordingTests: XCTestCase {
    static let dataDir = ProcessInfo.processInfo.environment["STRESSBEAT_DATA"] ?? "../shared/data"
    static let record101 = dataDir + "/mitdb/101.hea"

    private func requireRecord101() throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: Self.record101), fm.fileExists(atPath: Self.dataDir + "/mitdb/101.dat") else {
            throw XCTSkip("real data not available at \(Self.record101) (set STRESSBEAT_DATA)")
        }
    }

    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func testCoreVersionIsSet() {
        XCTAssertFalse(coreVersion().isEmpty)
    }

    /// Facts of MIT-BIH record 101 that hold whatever the analysis pipeline does.
    func testAnalyzesRealRecording() throws {
        try requireRecord101()
        let s = try analyzeRecording(path: Self.record101, options: nil)
        XCTAssertEqual(s.recordName, "101")
        XCTAssertEqual(s.channelLabel, "MLII")
        XCTAssertEqual(s.samplingRateHz, 360, accuracy: 1e-9)
        XCTAssertEqual(s.durationS, 1805.56, accuracy: 0.01)
        XCTAssert((0.0...1.0).contains(s.usableFraction), "usableFraction \(s.usableFraction)")
    }

    func testOptionsSelectChannelAndSpan() throws {
        try requireRecord101()
        let s = try analyzeRecording(path: Self.record101, options: AnalysisOptions(channel: 1, fromS: 60, toS: 120))
        XCTAssertEqual(s.channelLabel, "V1")
        XCTAssertEqual(s.durationS, 60, accuracy: 1e-6)
    }

    /// The whole pipeline through the binding: MIT-BIH 101 has 1865 annotated beats.
    func testBeatsAndHeartRate() throws {
        try requireRecord101()
        let s = try analyzeRecording(path: Self.record101, options: nil)
        XCTAssert((1850...1880).contains(s.beatCount), "beatCount \(s.beatCount) (expected 1850...1880)")
        let hr = try XCTUnwrap(s.meanHrBpm, "meanHrBpm is nil")
        XCTAssert((60.0...80.0).contains(hr), "meanHrBpm \(hr)")
        XCTAssertEqual(try XCTUnwrap(s.hrv).meanHrBpm, hr, accuracy: 1e-9)
    }

    /// HRV is of the normal-to-normal intervals: every interval is kept or left out for a reason.
    func testHrvIsOfNormalToNormalIntervals() throws {
        try requireRecord101()
        let h = try XCTUnwrap(try analyzeRecording(path: Self.record101, options: nil).hrv)
        let leftOut = try XCTUnwrap(h.leftOut, "leftOut is nil: the beats were not typed")
        XCTAssertEqual(h.nIntervals + leftOut.notNormal + leftOut.artefacts + leftOut.outliers, 1867)
        XCTAssert(leftOut.notNormal < 50, "notNormal \(leftOut.notNormal)")
        XCTAssertEqual(h.correction, RrCorrection(ectopic: 0, missed: 0, extra: 0, artefacts: 0))
    }

    func testMissingFileIsFileNotFound() {
        XCTAssertThrowsError(try analyzeRecording(path: "/nonexistent/private-dir/none.hea", options: nil)) { error in
            guard case StressBeatError.FileNotFound(let message) = error else {
                return XCTFail("expected FileNotFound, got \(error)")
            }
            XCTAssert(message.contains("none.hea"), message)
            XCTAssertFalse(message.contains("private-dir"), "message leaks the directory: \(message)")
        }
    }

    func testCorruptFileIsCorruptRecording() throws {
        let hea = try tempDir().appendingPathComponent("bad.hea")
        try "this is not a WFDB header\n\u{0}\u{1}garbage\n".write(to: hea, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try analyzeRecording(path: hea.path, options: nil)) { error in
            guard case StressBeatError.CorruptRecording = error else {
                return XCTFail("expected CorruptRecording, got \(error)")
            }
        }
    }

    func testTruncatedSignalIsCorruptRecording() throws {
        let dir = try tempDir()
        try "t1 1 360 1000\nt1.dat 212 200 11 1024 0 0 0 MLII\n"
            .write(to: dir.appendingPathComponent("t1.hea"), atomically: true, encoding: .utf8)
        try Data(count: 30).write(to: dir.appendingPathComponent("t1.dat"))
        XCTAssertThrowsError(try analyzeRecording(path: dir.appendingPathComponent("t1.hea").path, options: nil)) { error in
            guard case StressBeatError.CorruptRecording = error else {
                return XCTFail("expected CorruptRecording, got \(error)")
            }
        }
    }

    func testInvalidOptionsAreInvalidArgument() {
        XCTAssertThrowsError(try analyzeRecording(path: "/nonexistent/x.hea", options: AnalysisOptions(fromS: 10, toS: 5))) { error in
            guard case StressBeatError.InvalidArgument = error else {
                return XCTFail("expected InvalidArgument, got \(error)")
            }
        }
    }

    func testUnsupportedExtension() throws {
        let f = try tempDir().appendingPathComponent("rec.xyz")
        try "x".write(to: f, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try analyzeRecording(path: f.path, options: nil)) { error in
            guard case StressBeatError.UnsupportedFormat = error else {
                return XCTFail("expected UnsupportedFormat, got \(error)")
            }
        }
    }

    static let allTests = [
        ("testUnsupportedExtension", testUnsupportedExtension),
        ("testCoreVersionIsSet", testCoreVersionIsSet),
        ("testAnalyzesRealRecording", testAnalyzesRealRecording),
        ("testOptionsSelectChannelAndSpan", testOptionsSelectChannelAndSpan),
        ("testBeatsAndHeartRate", testBeatsAndHeartRate),
        ("testHrvIsOfNormalToNormalIntervals", testHrvIsOfNormalToNormalIntervals),
        ("testMissingFileIsFileNotFound", testMissingFileIsFileNotFound),
        ("testCorruptFileIsCorruptRecording", testCorruptFileIsCorruptRecording),
        ("testTruncatedSignalIsCorruptRecording", testTruncatedSignalIsCorruptRecording),
        ("testInvalidOptionsAreInvalidArgument", testInvalidOptionsAreInvalidArgument),
    ]
}
