// Alerts: the stored alerts of the last 30 days, newest first; acknowledge marks them as seen.
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import StressBeatAppLogic
import SwiftUI

@MainActor
struct AlertsView: View {
    @Bindable var model: AppModel

    var body: some View {
        NavigationStack {
            List {
                if model.alerts.isEmpty {
                    Text("No alerts in the last 30 days.").foregroundStyle(.secondary)
                }
                ForEach(model.alerts) { a in
                    HStack(alignment: .top) {
                        Image(systemName: a.warning ? "exclamationmark.triangle.fill" : "info.circle")
                            .foregroundStyle(a.warning ? Color.orange : Color.secondary)
                        VStack(alignment: .leading, spacing: 2) {
                            Text(UserText.alertTitle(a.kind)).font(.headline)
                            Text(a.reason).font(.subheadline)
                            Text(Date(timeIntervalSince1970: Double(a.atMs) / 1000), format: .dateTime.day().month().hour().minute())
                                .font(.caption).foregroundStyle(.secondary)
                        }
                        Spacer()
                        if a.acknowledged {
                            Image(systemName: "checkmark").foregroundStyle(.secondary).accessibilityLabel("Seen")
                        } else {
                            Button("Seen") { model.send(viewAction: .acknowledge(alertId: a.id)) }
                                .buttonStyle(.bordered)
                        }
                    }
                }
                Section { Disclaimer() }
            }
            .navigationTitle("Alerts")
            .refreshable { await model.refreshHistory() }
        }
    }
}
