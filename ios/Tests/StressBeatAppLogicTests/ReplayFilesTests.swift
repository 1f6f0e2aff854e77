// Which picked file a replay opens.
import Foundation
import StressBeatAppLogic
import XCTest

final class ReplayFilesTests: XCTestCase {
    private func files(_ names: String...) -> [URL] {
        names.map { URL(fileURLWithPath: "/tmp/replay").appendingPathComponent($0) }
    }

    func testTheRecordsOwnFileIsOpened() {
        // a WFDB record picked as .dat, .atr, .hea in any order: the header
        XCTAssertEqual(ReplayFiles.main(of: files("101.dat", "101.atr", "101.HEA"))?.lastPathComponent, "101.HEA")
        XCTAssertEqual(ReplayFiles.main(of: files("notes.txt", "night.edf"))?.lastPathComponent, "night.edf")
        XCTAssertEqual(ReplayFiles.main(of: files("h10.bin", "rr.csv"))?.lastPathComponent, "rr.csv")
        XCTAssertEqual(ReplayFiles.main(of: files("a.xyz", "b.xyz"))?.lastPathComponent, "a.xyz", "unknown: the first picked")
        XCTAssertEqual(ReplayFiles.main(of: files("a.csv", "b.csv"))?.lastPathComponent, "a.csv", "ties: the first picked")
        XCTAssertNil(ReplayFiles.main(of: []))
    }

    static let allTests = [
        ("testTheRecordsOwnFileIsOpened", testTheRecordsOwnFileIsOpened),
    ]
}
