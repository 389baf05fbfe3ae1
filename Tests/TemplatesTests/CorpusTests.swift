import Foundation
import Testing
@testable import Templates

/// Byte-exact agreement with Python jinja2 as transformers configures it, over llama.cpp's
/// template corpus and the catalog models' templates (fixtures from
/// scripts/reference/make-template-fixtures.py).
struct CorpusTests {
    struct Case {
        let template: String
        let name: String
        let source: String?  // per-case template (the language-feature fixture)
        let variables: [String: TemplateValue]
        let expected: String?  // nil: jinja2 raised
        let error: String?
    }

    struct Fixture {
        let name: String
        let source: String?
        let builtin: String?
        let cases: [Case]
    }

    /// The instant the fixtures pinned strftime_now to, in the local time zone as Python used.
    static let fixedNow: Date = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        return calendar.date(from: DateComponents(year: 2026, month: 11, day: 25, hour: 10, minute: 30, second: 15))!
    }()

    static func loadFixtures() throws -> [Fixture] {
        let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        return try files.map { url in
            guard case .object(let doc) = try TemplateValue(json: Data(contentsOf: url)),
                  case .string(let name)? = doc["name"], case .array(let cases)? = doc["cases"]
            else { throw TemplateError.runtime("bad fixture \(url.lastPathComponent)") }
            var source: String? = nil
            if case .string(let s)? = doc["source"] { source = s }
            var builtin: String? = nil
            if case .string(let b)? = doc["builtin"] { builtin = b }
            return Fixture(name: name, source: source, builtin: builtin, cases: cases.compactMap { entry in
                guard case .object(let c) = entry, case .string(let caseName)? = c["case"],
                      case .object(let variables)? = c["variables"] else { return nil }
                var expected: String? = nil
                if case .string(let e)? = c["output"] { expected = e }
                var error: String? = nil
                if case .string(let e)? = c["error"] { error = e }
                var caseSource: String? = nil
                if case .string(let s)? = c["source"] { caseSource = s }
                return Case(template: name, name: caseName, source: caseSource, variables: Dictionary(uniqueKeysWithValues: variables.pairs),
                            expected: expected, error: error)
            })
        }
    }

    /// Where two renders first differ, with a little context, for debugging a mismatch.
    static func firstDifference(_ expected: String, _ actual: String) -> String {
        let e = Array(expected.unicodeScalars), a = Array(actual.unicodeScalars)
        var i = 0
        while i < e.count && i < a.count && e[i] == a[i] { i += 1 }
        func context(_ s: [Unicode.Scalar]) -> String {
            let lo = max(0, i - 40), hi = min(s.count, i + 40)
            return String(String.UnicodeScalarView(s[lo..<hi])).debugDescription
        }
        return "first difference at scalar \(i) (expected \(e.count), got \(a.count)):\n    expected: \(context(e))\n    actual:   \(context(a))"
    }

    @Test func corpusMatchesJinja2() throws {
        let fixtures = try Self.loadFixtures()
        #expect(fixtures.count >= 70)
        var failures: [String] = []
        var total = 0
        for fixture in fixtures {
            let source: String
            if let builtin = fixture.builtin {
                guard let s = BuiltinChatTemplates.source(forArchitecture: builtin) else {
                    failures.append("\(fixture.name): no builtin template for \(builtin)")
                    continue
                }
                source = s
            } else {
                source = fixture.source ?? ""
            }
            let template: ChatTemplate?
            var parseError: Error? = nil
            do { template = try ChatTemplate(source: source) } catch { template = nil; parseError = error }
            for c in fixture.cases {
                total += 1
                let label = "\(fixture.name) [\(c.name)]"
                var template = template
                if let caseSource = c.source {
                    do { template = try ChatTemplate(source: caseSource) } catch { template = nil; parseError = error }
                }
                guard let template else {
                    if c.expected != nil { failures.append("\(label): parse failed: \(parseError!)") }
                    continue
                }
                do {
                    let output = try template.render(c.variables, now: Self.fixedNow)
                    if let expected = c.expected {
                        if output != expected { failures.append("\(label): output differs; \(Self.firstDifference(expected, output))") }
                    } else {
                        failures.append("\(label): rendered but jinja2 raised \(c.error ?? "")")
                    }
                } catch {
                    if c.expected != nil { failures.append("\(label): threw \(error)") }
                }
            }
        }
        print("template corpus: \(total - failures.count)/\(total) cases match jinja2 across \(fixtures.count) templates")
        for failure in failures { print("MISMATCH " + failure) }
        #expect(failures.isEmpty, "\(failures.count) of \(total) template cases differ from jinja2")
    }
}
