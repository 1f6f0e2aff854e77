// History: the last 24 h as a stress line (broken where there is no data), daily bars of the last
// two weeks, and the stored sessions with export (ShareLink).
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import Charts
import StressBeatAppLogic
import StressBeatCore
import SwiftUI

@MainActor
struct HistoryView: View {
    @Bindable var model: AppModel

    var body: some View {
        NavigationStack {
            List {
                Section("Last 24 hours") {
                    if model.timeline.score.isEmpty {
                        Text("No data in the last 24 hours.").foregroundStyle(.secondary)
                    } else {
                        let points = model.timeline.score
                        // a lone bucket between two gaps: a line mark alone draws nothing
                        let lone = TimelineSeries.singlePointSegments(points)
                        Chart(points) { p in
                            LineMark(x: .value("Time", p.date), y: .value("Stress", p.value),
                                     series: .value("Segment", p.segment))
                                .foregroundStyle(Color.orange)
                            if lone.contains(p.segment) {
                                PointMark(x: .value("Time", p.date), y: .value("Stress", p.value))
                                    .foregroundStyle(Color.orange)
                            }
                        }
                        .chartYScale(domain: 0...100)
                        .frame(height: 180)
                    }
                }
                Section("Daily") {
                    Chart(model.dailyBars) { d in
                        BarMark(x: .value("Day", String(d.date.suffix(5))), y: .value("Mean stress", d.meanScore ?? 0))
                            .foregroundStyle(d.hasData ? Color.orange : Color.gray.opacity(0.3))
                    }
                    .chartYScale(domain: 0...100)
                    .frame(height: 160)
                    if let today = model.dailyBars.last, today.hasData {
                        LabeledContent("Today, minutes high", value: String(format: "%.0f", today.highMinutes))
                        LabeledContent("Today, alerts", value: "\(today.alerts)")
                    }
                }
                Section("Sessions") {
                    ForEach(model.sessions, id: \.id) { s in SessionRow(session: s, model: model) }
                }
                Section { Disclaimer() }
            }
            .navigationTitle("History")
            .refreshable { await model.refreshHistory() }
            // closing the sheet (swiped down or Done) deletes the exported file: a copy shared or
            // saved elsewhere is the user's; none stays in the app's temporary folder
            .sheet(isPresented: Binding(get: { model.exportedFile != nil },
                                        set: { if !$0 { model.send(viewAction: .closeExport) } })) {
                if let url = model.exportedFile {
                    VStack(spacing: 16) {
                        Text(url.lastPathComponent).font(.headline)
                        ShareLink(item: url) { Label("Share", systemImage: "square.and.arrow.up") }
                            .buttonStyle(.borderedProminent)
                        Button("Done") { model.send(viewAction: .closeExport) }
                        Text("The file is deleted from StressBeat when you close this.")
                            .font(.caption).foregroundStyle(.secondary)
                        Disclaimer()
                    }
                    .padding()
                    .presentationDetents([.medium])
                }
            }
        }
    }
}

@MainActor
struct SessionRow: View {
    let session: SessionSummary
    let model: AppModel

    var body: some View {
        HStack {
            VStack(alignment: .leading) {
                Text(Date(timeIntervalSince1970: Double(session.startedAtMs) / 1000), format: .dateTime.day().month().hour().minute())
                Text("\(session.windows) windows · \(session.alerts) alerts")
                    .font(.caption).foregroundStyle(.secondary)
                if let ended = UserText.endReason(of: session) {
                    Text(ended).font(.caption).foregroundStyle(.secondary)
                }
            }
            Spacer()
            Menu {
                Button("Stress (CSV)") { model.send(viewAction: .export(session, .windowsCsv)) }
                Button("Heartbeats (CSV)") { model.send(viewAction: .export(session, .rrCsv)) }
                Button("ECG (EDF+)") { model.send(viewAction: .export(session, .edf)) }
            } label: {
                Image(systemName: "square.and.arrow.up")
            }
        }
    }
}
