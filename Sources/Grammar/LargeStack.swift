import Foundation

/// Runs schema conversion on a thread with a generous stack.
///
/// The converter recurses once per schema level (bounded by `GrammarLimits.maximumSchemaDepth`),
/// and unoptimised builds use large frames; callers may be on small-stack threads (512 KiB), so
/// the work moves to a thread whose stack certainly fits the deepest schema accepted.
enum LargeStack {
    static let size = 16 << 20

    private final class Job<T>: @unchecked Sendable {
        /// Dropped as soon as it ran: the closure must not outlive `withoutActuallyEscaping`.
        var work: (() throws(GrammarError) -> T)?
        var result: Result<T, GrammarError>?
        init(_ work: @escaping () throws(GrammarError) -> T) { self.work = work }
    }

    static func run<T>(_ body: () throws(GrammarError) -> T) throws(GrammarError) -> T {
        let result: Result<T, GrammarError> = withoutActuallyEscaping(body) { escapable in
            let job = Job(escapable)
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                do throws(GrammarError) {
                    job.result = .success(try job.work!())
                } catch {
                    job.result = .failure(error)
                }
                job.work = nil
                done.signal()
            }
            thread.stackSize = size
            thread.start()
            done.wait()
            return job.result!
        }
        return try result.get()
    }
}
