// Live: connection, heart rate (greyed when stale), stress gauge and level, signal quality,
// battery, calibration, start/stop (strap, simulator, replay for demo/QA), latest alert.
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import StressBeatAppLogic
import StressBeatCore
import SwiftUI
import UniformTypeIdentifiers

@MainActor
struct LiveView: View {
    @Bindable var model: AppModel
    @State private var showingStraps = false
    @State private var showingImporter = false

    private var live: LiveState { model.live }

    var body: some View {
        NavigationStack {
            List {
                Section {
                    LabeledContent("Strap", value: UserText.connection(live.connection))
                    if let battery = live.batteryPercent {
                        LabeledContent("Battery", value: "\(battery) %")
                    }
                    if let problem = model.bluetoothProblem {
                        Text(problem).foregroundStyle(.red)
                    }
                }
                Section("Heart rate") { heartRate }
                Section("Stress") { stress }
                Section("Signal") { signal }
                Section("Personal baseline") { calibration }
                if let alert = live.latestAlert {
                    Section("Latest alert") {
                        VStack(alignment: .leading) {
                            Text(UserText.alertTitle(alert.kind)).font(.headline)
                            Text(alert.reason).font(.subheadline)
                        }
                    }
                }
                if case let .finished(_, windows, reason) = live.session {
                    Section("Last session") {
                        Text(UserText.endReason(reason))
                        Text("\(windows) windows analysed").foregroundStyle(.secondary)
                    }
                }
                Section { Disclaimer() }
            }
            .navigationTitle("StressBeat")
            .toolbar { ToolbarItem(placement: .primaryAction) { startStop } }
            .sheet(isPresented: $showingStraps) { StrapPicker(model: model, isPresented: $showingStraps) }
            .fileImporter(isPresented: $showingImporter, allowedContentTypes: [.data], allowsMultipleSelection: true) { result in
                if case let .success(urls) = result { model.send(viewAction: .startReplay(urls)) }
            }
        }
    }

    @ViewBuilder private var startStop: some View {
        if live.session.isRunning {
            Button("Stop", role: .destructive) { model.send(viewAction: .stop) }
        } else {
            Menu("Start") {
                Button("Chest strap…", systemImage: "heart.circle") {
                    model.send(viewAction: .scan)
                    showingStraps = true
                }
                Section("Demo and testing") {
                    Button("Simulator", systemImage: "cpu") { model.send(viewAction: .startSimulator(stressEpisode: false)) }
                    Button("Simulator with a stress episode", systemImage: "bolt.heart") {
                        model.send(viewAction: .startSimulator(stressEpisode: true))
                    }
                    Button("Replay a recording…", systemImage: "doc") { showingImporter = true }
                }
            }
        }
    }

    private var heartRate: some View {
        TimelineView(.periodic(from: .now, by: 1)) { context in
            let nowMs = Int64(context.date.timeIntervalSince1970 * 1000)
            HStack(alignment: .firstTextBaseline) {
                if let hr = live.heartRate, nowMs - hr.atMs < 60_000 {
                    let stale = hr.isStale(nowMs: nowMs)
                    Text("\(Int(hr.bpm.rounded()))").font(.system(size: 56, weight: .bold, design: .rounded))
                        .foregroundStyle(stale ? HierarchicalShapeStyle.secondary : HierarchicalShapeStyle.primary)
                    Text("bpm").font(.title3)
                    Spacer()
                    VStack(alignment: .trailing) {
                        Text(hr.source == .ecg ? "from ECG" : "from strap")
                        if stale { Text("not updated") }
                        if hr.contact == false { Text("no skin contact").foregroundStyle(.orange) }
                    }
                    .font(.caption).foregroundStyle(.secondary)
                } else {
                    Text("—").font(.system(size: 56, weight: .bold, design: .rounded)).foregroundStyle(.secondary)
                }
            }
        }
    }

    @ViewBuilder private var stress: some View {
        if let s = live.stress {
            HStack(spacing: 20) {
                Gauge(value: Double(s.score ?? 0), in: 0...100) {
                    Text("Stress")
                } currentValueLabel: {
                    Text(s.score.map(String.init) ?? "–")
                }
                .gaugeStyle(.accessoryCircular)
                .tint(Gradient(colors: [.green, .yellow, .red]))
                .scaleEffect(1.4)
                .frame(width: 80, height: 80)
                VStack(alignment: .leading, spacing: 4) {
                    Text(UserText.level(s.level)).font(.title2.bold())
                    if let reason = s.noScoreReason { Text(reason).font(.caption).foregroundStyle(.secondary) }
                    Text("Confidence \(Int((s.confidence * 100).rounded())) %").font(.caption).foregroundStyle(.secondary)
                    if s.rrOnly { Text("From heart-rate intervals (no ECG)").font(.caption).foregroundStyle(.secondary) }
                }
            }
        } else {
            Text(live.session.isRunning ? "Warming up: the first result comes after 30 s." : "Start a session to see your stress level.")
                .foregroundStyle(.secondary)
        }
        if live.degraded.contains(.modelUnavailable(.stress)) {
            Text("Scores come from a simpler method on this device.").font(.caption).foregroundStyle(.orange)
        }
        if live.degraded.contains(.modelUnavailable(.beatType)) {
            Text("Heartbeats are not classified on this device (all count as normal).").font(.caption).foregroundStyle(.orange)
        }
        if live.degraded.contains(.storageFailed) {
            Text("The history cannot be saved right now (free up space).").font(.caption).foregroundStyle(.orange)
        }
    }

    @ViewBuilder private var signal: some View {
        if let q = live.signal {
            ProgressView(value: Double(q.score)) { Text(UserText.signal(q.issue)) }
                .tint(q.usable ? Color.green : Color.orange)
        } else {
            Text("No signal yet").foregroundStyle(.secondary)
        }
        if live.degraded.contains(.ecgUnusable) {
            Text("The strap's ECG is not available; stress comes from heart-rate intervals.")
                .font(.caption).foregroundStyle(.secondary)
        }
    }

    /// During a session a calibration runs at once; with none running it is asked for the next
    /// session (the core times it from that session's start) and shown as pending until then.
    @ViewBuilder private var calibration: some View {
        if let text = UserText.calibration(live.calibration) { Text(text) }
        switch live.calibration {
        case .running:
            if let progress = live.calibration.progress { ProgressView(value: progress) }
            Button("Cancel calibration", role: .cancel) { model.send(viewAction: .cancelCalibration) }
        case .pending:
            Button("Cancel calibration", role: .cancel) { model.send(viewAction: .cancelCalibration) }
        case .notRunning, .completed, .failed:
            if live.session.isRunning {
                Button("Calibrate (sit calmly for 3 minutes)") { model.send(viewAction: .startCalibration) }
            } else {
                Button("Calibrate at the start of the next session") { model.send(viewAction: .startCalibration) }
                Text("Then sit calmly for the session's first 3 minutes.").font(.caption).foregroundStyle(.secondary)
            }
        }
    }
}

/// Straps found by the scan (Heart Rate Service).
@MainActor
struct StrapPicker: View {
    @Bindable var model: AppModel
    @Binding var isPresented: Bool

    var body: some View {
        NavigationStack {
            List(model.straps) { strap in
                Button {
                    model.send(viewAction: .connect(strap))
                    isPresented = false
                } label: {
                    LabeledContent(strap.name, value: "\(strap.rssi) dBm")
                }
            }
            .overlay {
                // Bluetooth off, not allowed or absent: said here (the sheet covers LiveView's
                // copy), instead of a spinner that would never stop
                if model.straps.isEmpty {
                    if let problem = model.bluetoothProblem {
                        ContentUnavailableView("Bluetooth unavailable", systemImage: "antenna.radiowaves.left.and.right.slash",
                                               description: Text(problem))
                    } else {
                        ProgressView("Looking for chest straps…")
                    }
                }
            }
            .navigationTitle("Chest straps")
            .toolbar { ToolbarItem(placement: .cancellationAction) { Button("Cancel") { isPresented = false } } }
        }
        .onDisappear { model.send(viewAction: .stopScan) }
    }
}
