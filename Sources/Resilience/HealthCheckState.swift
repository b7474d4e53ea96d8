// Active health checking's verdict per endpoint (Envoy's health checker thresholds): an endpoint
// turns unhealthy after `unhealthyThreshold` failed checks in a row and healthy again after
// `healthyThreshold` passed ones. It starts healthy, so that a new endpoint is not kept idle
// until its first check, as with gRPC's health checking client.

public struct HealthCheckSettings: Sendable, Equatable {
    public var intervalNanoseconds: UInt64
    public var timeoutNanoseconds: UInt64
    public var healthyThreshold: Int
    public var unhealthyThreshold: Int
    /// `HealthCheckRequest.service`; empty asks about the server as a whole.
    public var service: String

    public init(
        intervalNanoseconds: UInt64 = 5_000_000_000, timeoutNanoseconds: UInt64 = 1_000_000_000,
        healthyThreshold: Int = 1, unhealthyThreshold: Int = 2, service: String = ""
    ) {
        self.intervalNanoseconds = intervalNanoseconds
        self.timeoutNanoseconds = timeoutNanoseconds
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
        self.service = service
    }
}

public struct HealthCheckState: Sendable, Equatable {
    public private(set) var isHealthy = true
    private var consecutive = 0

    public init() {}

    /// Records one check; returns whether the verdict changed.
    public mutating func record(passed: Bool, settings: HealthCheckSettings) -> Bool {
        if passed == isHealthy {
            consecutive = 0
            return false
        }
        consecutive += 1
        guard consecutive >= (passed ? settings.healthyThreshold : settings.unhealthyThreshold) else { return false }
        isHealthy = passed
        consecutive = 0
        return true
    }
}
