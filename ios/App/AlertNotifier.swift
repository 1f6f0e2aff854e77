// Local notifications for live warning alerts. Privacy on the lock screen: the title is the
// alert's kind ("Strap battery low"), the body generic ("Open StressBeat for the details"): the
// core's reason (scores, durations) is shown only in the app. With notification previews hidden
// (Settings › Notifications › Show Previews) iOS shows only the placeholder below.
// Permission is asked for when the user first starts a session (AppModel), not at launch.
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import Foundation
import StressBeatAppLogic
import UserNotifications

final class AlertNotifier: NSObject, UNUserNotificationCenterDelegate, @unchecked Sendable {
    private static let category = "com.stressbeat.app.alert"
    private let center = UNUserNotificationCenter.current()

    override init() {
        super.init()
        center.delegate = self
        center.setNotificationCategories([
            UNNotificationCategory(identifier: Self.category, actions: [], intentIdentifiers: [],
                                   hiddenPreviewsBodyPlaceholder: "StressBeat alert", options: []),
        ])
    }

    func requestAuthorization() {
        center.requestAuthorization(options: [.alert, .sound]) { _, _ in }
    }

    func post(_ alert: AlertItem) {
        let text = UserText.notification(for: alert)
        let content = UNMutableNotificationContent()
        content.title = text.title
        content.body = text.body
        content.sound = .default
        content.threadIdentifier = "alerts"
        content.categoryIdentifier = Self.category
        let request = UNNotificationRequest(identifier: "alert-\(alert.id)", content: content, trigger: nil)
        center.add(request) { _ in }
    }

    /// Shown as a banner while the app is open too.
    func userNotificationCenter(_ center: UNUserNotificationCenter, willPresent notification: UNNotification,
                                withCompletionHandler completionHandler: @escaping (UNNotificationPresentationOptions) -> Void) {
        completionHandler([.banner, .list, .sound])
    }
}
