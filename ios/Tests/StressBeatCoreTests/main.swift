// Test entry point for Linux without SwiftPM (swiftc-built XCTest runner).
import XCTest

XCTMain([
    testCase(AnalyzeRecordingTests.allTests),
    testCase(StrapSessionBridgeTests.allTests),
    testCase(StressMonitorTests.allTests),
])
