// The app: one model, three tabs, the disclaimer on each.
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import Combine
import StressBeatAppLogic
import SwiftUI

@main
@MainActor
struct StressBeatApp: App {
    @State private var model = AppModel()
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            RootView(model: model)
                .task { await model.launch() }
                .onChange(of: scenePhase) { _, phase in
                    // daylight saving changes the offset without a time zone change
                    if phase == .active { model.send(viewAction: .timeZoneMayHaveChanged) }
                }
                // posted on whichever thread changed the zone: delivered on the main run loop
                .onReceive(NotificationCenter.default.publisher(for: .NSSystemTimeZoneDidChange)
                    .receive(on: RunLoop.main)) { _ in
                    model.send(viewAction: .timeZoneMayHaveChanged)
                }
        }
    }
}

@MainActor
struct RootView: View {
    @Bindable var model: AppModel

    var body: some View {
        switch model.phase {
        case .starting:
            ProgressView("Opening your history…")
        case let .unavailable(message):
            UnavailableView(message: message,
                            retry: { model.send(viewAction: .retryLaunch) },
                            startNewHistory: { model.send(viewAction: .startNewHistory) })
        case .ready:
            TabView {
                LiveView(model: model).tabItem { Label("Live", systemImage: "waveform.path.ecg") }
                HistoryView(model: model).tabItem { Label("History", systemImage: "chart.xyaxis.line") }
                AlertsView(model: model).tabItem { Label("Alerts", systemImage: "bell") }
                    .badge(model.alerts.filter { !$0.acknowledged && $0.warning }.count)
            }
            .alert(model.message?.title ?? "", isPresented: Binding(
                get: { model.message != nil }, set: { if !$0 { model.send(viewAction: .dismissMessage) } })) {
                Button("OK") { model.send(viewAction: .dismissMessage) }
            } message: {
                Text(model.message?.detail ?? "")
            }
        }
    }
}

/// The monitor could not be created: say why and offer what helps (trying again, unless the
/// history is from a newer app or damaged: that does not pass by itself).
@MainActor
struct UnavailableView: View {
    let message: UserMessage
    let retry: () -> Void
    let startNewHistory: () -> Void

    var body: some View {
        VStack(spacing: 16) {
            ContentUnavailableView(message.title, systemImage: "exclamationmark.triangle", description: Text(message.detail))
            if message.action == .startNewHistory {
                Button("Start a new history", action: startNewHistory).buttonStyle(.borderedProminent)
            }
            if message.action == .updateApp, let url = URL(string: "itms-apps://apps.apple.com") {
                Link("Open the App Store", destination: url).buttonStyle(.borderedProminent)
            }
            if message.retryMayHelp {
                Button("Try again", action: retry).buttonStyle(.borderedProminent)
            }
            Disclaimer()
        }
        .padding()
    }
}
