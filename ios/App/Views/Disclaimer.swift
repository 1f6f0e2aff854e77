// "Not a medical device", wherever results are shown.
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import StressBeatAppLogic
import SwiftUI

@MainActor
struct Disclaimer: View {
    var body: some View {
        Text(UserText.disclaimer)
            .font(.footnote)
            .foregroundStyle(.secondary)
            .multilineTextAlignment(.center)
            .frame(maxWidth: .infinity)
            .accessibilityAddTraits(.isStaticText)
    }
}
