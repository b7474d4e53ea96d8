// Carries out a RefreshSchedule on a loop for a fetcher (JWK sets, reflected descriptors): a
// timer for the waits, the fetcher's fetch when one is due. The fetcher reports how each fetch
// ended; the schedule decides when the next one starts.
import FerryCore
import Loop
import Resilience

final class RefreshTimer {
    private var schedule: RefreshSchedule
    private var timer: LoopTimer?
    private var random = SplitMix64(state: EventLoop.monotonicNow)
    private let fetch: () -> Void
    /// No fetch starts, and a fetch under way is to be ignored when it ends.
    private(set) var isStopped = false

    /// `fetch` starts a fetch, which reports its end with `fetchSucceeded` or `fetchFailed`.
    init(refreshNanoseconds: UInt64?, loop: EventLoop, fetch: @escaping () -> Void) {
        schedule = RefreshSchedule(refreshNanoseconds: refreshNanoseconds)
        self.fetch = fetch
        timer = LoopTimer(loop: loop) { [unowned self] in perform(schedule.timerFired(now: EventLoop.monotonicNow)) }
    }

    /// The first fetch, at once.
    func start() {
        perform(schedule.start(now: EventLoop.monotonicNow))
    }

    func fetchSucceeded() {
        perform(schedule.fetchSucceeded(now: EventLoop.monotonicNow))
    }

    func fetchFailed() {
        perform(schedule.fetchFailed(now: EventLoop.monotonicNow, using: &random))
    }

    /// The fetched copy lacks something asked for (a token's key): fetch early, within the rate.
    func staleCopyFound() {
        perform(schedule.staleCopyFound(now: EventLoop.monotonicNow))
    }

    func stop() {
        isStopped = true
        timer?.cancel()
        timer = nil
    }

    private func perform(_ action: RefreshSchedule.Action) {
        guard !isStopped else { return }
        switch action {
        case .fetch: fetch()
        case .wait(let until):
            let now = EventLoop.monotonicNow
            timer?.schedule(afterNanoseconds: until > now ? until - now : 0)
        case .none: break
        }
    }
}
