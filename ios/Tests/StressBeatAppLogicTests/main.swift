// Test entry point for Linux without SwiftPM (swiftc-built XCTest runner of the app's logic).
import XCTest

XCTMain([
    testCase(PeripheralCommandRouterTests.allTests),
    testCase(LiveStateTests.allTests),
    testCase(HistoryTests.allTests),
    testCase(UserTextTests.allTests),
    testCase(ReplayFilesTests.allTests),
])
