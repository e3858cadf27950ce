import Foundation

/// Validates plugin JSON before it is embedded verbatim in the report.
enum JSONCheck {
    static func problem(in text: String) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            return nil
        } catch {
            return String(describing: error)
        }
    }
}
