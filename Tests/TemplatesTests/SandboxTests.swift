import Foundation
import Testing
@testable import Templates

/// Hostile templates (the CVE-2024-34359 class): every one must render inert text or throw a
/// TemplateError, quickly, without crashing or allocating without bound.
struct SandboxTests {
    static let variables: [String: TemplateValue] = [
        "messages": [["role": "user", "content": "hi"]],
        "add_generation_prompt": true,
    ]

    /// Renders and returns the error, failing the test if it took too long or did not throw.
    @discardableResult
    static func expectFailure(_ source: String, limits: TemplateLimits = .default,
                              sourceLocation: SourceLocation = #_sourceLocation) -> TemplateError? {
        let start = Date()
        var caught: TemplateError? = nil
        do {
            let output = try ChatTemplate(source: source).render(variables, limits: limits)
            Issue.record("expected an error, rendered \(output.prefix(80).debugDescription)", sourceLocation: sourceLocation)
        } catch let error as TemplateError {
            caught = error
        } catch {
            Issue.record("non-template error \(error)", sourceLocation: sourceLocation)
        }
        #expect(Date().timeIntervalSince(start) < 10, "took too long", sourceLocation: sourceLocation)
        return caught
    }

    static func isLimit(_ error: TemplateError?, _ limit: TemplateError.Limit) -> Bool {
        if case .limit(let l)? = error?.kind { return l == limit }
        return false
    }

    @Test(arguments: [
        "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ messages.append(1) }}",
        "{{ messages[0].update({'role': 'system'}) }}",
        "{{ messages.pop() }}",
        "{{ range.__self__ }}{{ raise_exception.__globals__['os'] }}",
        "{{ '{0.__class__.__init__.__globals__}'.format('') }}",
        "{{ messages.__class__.__base__.__subclasses__() }}",
        "{{ (messages|attr('__class__')).__mro__ }}",
        "{% set x = messages.__class__ %}{{ x.__name__ }}",
    ])
    func injectionPayloadsFail(_ payload: String) {
        let error = Self.expectFailure(payload)
        #expect(error?.kind == .runtime, "\(String(describing: error))")
    }

    @Test func unsafeAttributesAreInertWhenOnlyPrinted() throws {
        let output = try ChatTemplate(source: "[{{ ''.__class__ }}][{{ messages.__class__ }}][{{ range.__globals__ }}][{{ messages|attr('__dict__') }}]")
            .render(Self.variables)
        #expect(output == "[][][][]")
    }

    @Test func hugeRangeFailsFastWithoutAllocating() {
        let error = Self.expectFailure("{% for x in range(999999999999) %}{{ x }}{% endfor %}")
        #expect(Self.isLimit(error, .loopIterations))
    }

    @Test func nestedLoopsHitTheIterationLimit() {
        let limits = TemplateLimits(maxLoopIterations: 20_000)
        let error = Self.expectFailure("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}", limits: limits)
        #expect(Self.isLimit(error, .loopIterations))
    }

    @Test func stringRepetitionIsBounded() {
        #expect(Self.isLimit(Self.expectFailure("{{ 'a' * 10**10 }}"), .outputBytes))
        #expect(Self.isLimit(Self.expectFailure("{{ 'ab' * 9223372036854775807 }}"), .outputBytes))
        #expect(Self.isLimit(Self.expectFailure("{{ [1, 2] * 10**12 }}"), .outputBytes))
    }

    @Test func doublingAStringIsBounded() {
        let error = Self.expectFailure("{% set ns = namespace(s='abcd') %}{% for i in range(200) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}")
        #expect(Self.isLimit(error, .outputBytes))
    }

    @Test func outputSizeIsBounded() {
        let limits = TemplateLimits(maxOutputBytes: 10_000)
        let error = Self.expectFailure("{% for i in range(100000) %}{{ 'xxxxxxxxxx' }}{% endfor %}", limits: limits)
        #expect(Self.isLimit(error, .outputBytes))
    }

    @Test func infiniteMacroRecursionIsBounded() {
        #expect(Self.isLimit(Self.expectFailure("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), .recursionDepth))
        #expect(Self.isLimit(Self.expectFailure("{% macro f(n) %}x{{ f(n + 1) ~ f(n + 2) }}{% endmacro %}{{ f(0) }}"), .recursionDepth))
    }

    @Test func wallTimeIsBounded() {
        let limits = TemplateLimits(maxDuration: 0.2)
        let error = Self.expectFailure("{% for i in range(1000000) %}{% set x = messages|tojson %}{% endfor %}", limits: limits)
        #expect(Self.isLimit(error, .duration))
    }

    @Test func deepValueNestingIsBounded() {
        let error = Self.expectFailure("{% set ns = namespace(x=1) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}")
        #expect(Self.isLimit(error, .recursionDepth))
        let chain = Self.expectFailure("{% set ns = namespace(x=1) %}{% for i in range(100000) %}{% set ns.x = namespace(y=ns.x) %}{% endfor %}")
        #expect(Self.isLimit(chain, .recursionDepth))
    }

    @Test func selfReferencingNamespacePrintsWithoutRecursingForever() throws {
        let output = try ChatTemplate(source: "{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}").render([:])
        #expect(output.hasPrefix("<Namespace {'a': 1, 'me': <Namespace"))
    }

    @Test func deeplyNestedSourceIsASyntaxErrorNotACrash() {
        let parens = String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000)
        let longChain = "{{ " + Array(repeating: "'a'", count: 100_000).joined(separator: " ~ ") + " }}"
        let ifs = String(repeating: "{% if true %}", count: 50_000) + String(repeating: "{% endif %}", count: 50_000)
        let filters = "{{ 'a'" + String(repeating: "|upper", count: 100_000) + " }}"
        for source in ["{{ \(parens) }}", longChain, ifs, filters] {
            do {
                _ = try ChatTemplate(source: source)
                Issue.record("expected a syntax error")
            } catch let error as TemplateError {
                if case .syntax = error.kind {} else { Issue.record("unexpected \(error)") }
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func integerOverflowIsAnError() {
        #expect(Self.expectFailure("{{ 2 ** 100000 }}")?.kind == .runtime)
        #expect(Self.expectFailure("{{ 9223372036854775807 + 1 }}")?.kind == .runtime)
    }

    @Test func onlyPassedValuesAreVisible() throws {
        let output = try ChatTemplate(source: "[{{ os }}][{{ config }}][{{ request }}][{{ self }}][{{ environ }}][{{ __builtins__ }}]").render([:])
        #expect(output == "[][][][][][]")
    }
}
