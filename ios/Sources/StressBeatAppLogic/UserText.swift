// Short user-facing texts for what the core reports, the actions that go with errors, and
// log-safe descriptions (no health data, no identifiers, no paths).
import Foundation
import StressBeatCore

/// What the app offers the user to do about an error.
public enum UserAction: Equatable, Sendable {
    case pickFileAgain
    case checkStorage
    case chooseAnotherFile
    case checkStrapAndRecordLonger
    case updateApp
    /// Keep the damaged history aside and start a new one.
    case startNewHistory
    case reinstallApp
    case retry
    case useAnotherSource
    case reportProblem
}

/// A message for an error: a title, one sentence, and the action offered.
public struct UserMessage: Equatable, Sendable {
    public var title: String
    public var detail: String
    public var action: UserAction

    public init(title: String, detail: String, action: UserAction) {
        self.title = title
        self.detail = detail
        self.action = action
    }

    /// Whether trying again may help (offered next to the action, e.g. when the monitor could
    /// not be created): not for a history from a newer app or a damaged one, which stay so.
    public var retryMayHelp: Bool {
        switch action {
        case .updateApp, .startNewHistory: return false
        default: return true
        }
    }
}

/// The phone's Bluetooth as CoreBluetooth reports it (`CBManagerState`, mapped in the app).
public enum BluetoothState: Equatable, Sendable {
    case unknown, resetting, unsupported, unauthorized, poweredOff, poweredOn

    /// Off, not allowed or absent: no state callback may come until the user changes it, so a
    /// scan asked for now must say so at once instead of waiting.
    public var isUnavailable: Bool {
        switch self {
        case .unsupported, .unauthorized, .poweredOff: return true
        case .unknown, .resetting, .poweredOn: return false
        }
    }
}

public enum UserText {
    /// Shown wherever results are (Live, History, Alerts, notifications' settings).
    public static let disclaimer =
        "StressBeat is not a medical device. Its scores and alerts are for personal insight, not diagnosis."

    public static func level(_ l: StressLevel?) -> String {
        switch l {
        case .calm?: return "Calm"
        case .elevated?: return "Elevated"
        case .high?: return "High"
        case nil: return "Warming up"
        }
    }

    /// Why a session ended; `nil`: not known (a reason written by a newer version).
    public static func endReason(_ r: SessionEndReason?) -> String {
        switch r {
        case .stopped?: return "You stopped the session."
        case .disconnected?: return "The strap was lost and did not come back."
        case .sourceEnded?: return "The recording or simulation ended."
        case .error?: return "The session ended because of an error."
        case .interrupted?: return "The app was closed before the session ended."
        case nil: return "The session ended."
        }
    }

    /// Why a stored session ended; `nil` while it runs (no end yet).
    public static func endReason(of session: SessionSummary) -> String? {
        session.endReason == nil && session.endedAtMs == nil ? nil : endReason(session.endReason)
    }

    public static func alertTitle(_ k: AlertKind) -> String {
        switch k {
        case .sustainedHighStress: return "Stress has stayed high"
        case .signalLost: return "No usable signal"
        case .signalBack: return "Signal is back"
        case .batteryLow: return "Strap battery low"
        case .strapDisconnected: return "Strap disconnected"
        case .strapReconnected: return "Strap reconnected"
        }
    }

    /// The sentence shown (strap picker, Live) when Bluetooth cannot be used; `nil` when it can
    /// or its state is not known yet (`unknown`, `resetting`: a new state follows).
    public static func bluetoothProblem(_ state: BluetoothState) -> String? {
        switch state {
        case .unauthorized: return "StressBeat may not use Bluetooth: allow it in Settings › Privacy & Security › Bluetooth."
        case .poweredOff: return "Bluetooth is off: turn it on in Control Center or Settings."
        case .unsupported: return "This device has no Bluetooth for chest straps."
        case .unknown, .resetting, .poweredOn: return nil
        }
    }

    public static func connection(_ c: ConnectionPhase) -> String {
        switch c {
        case .idle: return "Not connected"
        case .connecting: return "Connecting…"
        case .configuring: return "Setting up the strap…"
        case .streaming: return "Connected"
        case let .reconnecting(attempt): return "Reconnecting (attempt \(attempt))…"
        case .stopped: return "Disconnected"
        case .failed: return "Could not connect"
        }
    }

    public static func signal(_ issue: SignalIssue) -> String {
        switch issue {
        case .good: return "Good signal"
        case .noise: return "Noisy signal: hold still"
        case .saturation: return "Signal clipped: check the strap's fit"
        case .leadOff: return "No contact: moisten the electrodes"
        }
    }

    public static func calibration(_ c: CalibrationState) -> String? {
        switch c {
        case .notRunning: return nil
        case let .pending(durationS):
            return "Calibration starts with the next session: sit calmly for its first \(minutesText(durationS))."
        case let .running(accepted, _, _, remaining, _):
            return "Calibrating: sit calmly (\(remaining) s left, \(accepted) calm windows)"
        case .completed: return "Calibration done: scores now use your baseline."
        case let .failed(accepted, needed, poor, irregular):
            let why = poor >= irregular ? "a poor signal (contact, movement)" : "an irregular rhythm"
            return "Calibration failed: \(accepted) of \(needed) calm windows; most were left out for \(why)."
        }
    }

    /// The message and action for an error from the core (others: a generic retry).
    public static func message(for error: Error) -> UserMessage {
        guard let e = error as? StressBeatError else {
            return UserMessage(title: "Something went wrong", detail: "Please try again.", action: .retry)
        }
        switch e {
        case .FileNotFound:
            return UserMessage(title: "File not found", detail: "Pick the recording again.", action: .pickFileAgain)
        case .CannotReadFile:
            return UserMessage(title: "Cannot read the file",
                               detail: "Check that the file is accessible and try again.", action: .checkStorage)
        case .UnsupportedFormat:
            return UserMessage(title: "Unsupported file",
                               detail: "StressBeat reads WFDB, EDF, CSV and Polar recordings.", action: .chooseAnotherFile)
        case .CorruptRecording:
            return UserMessage(title: "Damaged recording",
                               detail: "The recording is damaged; export or record it again.", action: .chooseAnotherFile)
        case .NotEnoughSignal:
            return UserMessage(title: "Not enough signal",
                               detail: "Check the strap's contact and record for longer.", action: .checkStrapAndRecordLonger)
        case .Storage:
            return UserMessage(title: "Cannot save the history",
                               detail: "Check free space on the phone, then try again.", action: .checkStorage)
        case .HistoryFromNewerApp:
            return UserMessage(title: "Update StressBeat",
                               detail: "Your history was written by a newer version. Update the app; your history is kept.",
                               action: .updateApp)
        case .HistoryDamaged:
            return UserMessage(title: "History damaged",
                               detail: "Your history file is damaged. It is kept aside; you can start a new history.",
                               action: .startNewHistory)
        case .Model:
            return UserMessage(title: "Analysis unavailable",
                               detail: "A part of the app is missing or damaged. Reinstall StressBeat.", action: .reinstallApp)
        case .InvalidArgument, .InvalidState, .Internal:
            return UserMessage(title: "Something went wrong",
                               detail: "Please try again; if it happens again, report it.", action: .reportProblem)
        case .Unsupported:
            return UserMessage(title: "Not available",
                               detail: "This is not available on this device; use another source.", action: .useAnotherSource)
        }
    }

    /// For logs: the error's kind only. The core's messages hold no health data but may name a
    /// file, which can identify the user: never log them.
    public static func logSafe(_ error: Error) -> String {
        guard let e = error as? StressBeatError else { return "error \(type(of: error))" }
        switch e {
        case .FileNotFound: return "StressBeatError.FileNotFound"
        case .CannotReadFile: return "StressBeatError.CannotReadFile"
        case .UnsupportedFormat: return "StressBeatError.UnsupportedFormat"
        case .CorruptRecording: return "StressBeatError.CorruptRecording"
        case .InvalidArgument: return "StressBeatError.InvalidArgument"
        case .NotEnoughSignal: return "StressBeatError.NotEnoughSignal"
        case .Storage: return "StressBeatError.Storage"
        case .HistoryFromNewerApp: return "StressBeatError.HistoryFromNewerApp"
        case .HistoryDamaged: return "StressBeatError.HistoryDamaged"
        case .Model: return "StressBeatError.Model"
        case .InvalidState: return "StressBeatError.InvalidState"
        case .Unsupported: return "StressBeatError.Unsupported"
        case .Internal: return "StressBeatError.Internal"
        }
    }

    /// "3 minutes", "90 s".
    static func minutesText(_ seconds: UInt32) -> String {
        seconds % 60 == 0 ? (seconds == 60 ? "minute" : "\(seconds / 60) minutes") : "\(seconds) s"
    }

    /// The body of every alert notification: the details (the core's reason: scores, durations)
    /// stay in the app, not on the lock screen.
    public static let notificationBody = "Open StressBeat for the details.\n" + disclaimer

    /// A local notification's text for a live alert: the kind's short title and a generic body
    /// (the reason is shown in the app only; with previews hidden iOS shows neither).
    public static func notification(for a: AlertItem) -> (title: String, body: String) {
        (alertTitle(a.kind), notificationBody)
    }
}
