// A repeating timer that a streaming handler keeps alive through its closures.
import Loop

final class LoopTimerBox {
    private var timer: LoopTimer?

    func start(loop: EventLoop, intervalMilliseconds: Int, _ tick: @escaping () -> Void) {
        let timer = LoopTimer(loop: loop, repeating: true, tick)
        timer.schedule(afterNanoseconds: UInt64(intervalMilliseconds) * 1_000_000)
        self.timer = timer
    }

    func stop() {
        timer?.cancel()
        timer = nil
    }
}
