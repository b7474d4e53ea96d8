// The configuration `ferry demo` runs; config/demo.yaml holds the same text (a test checks).

public enum DemoConfig {
    public static let yaml = """
        # The configuration `ferry demo` runs (embedded in the binary as Config.DemoConfig.yaml):
        # the gateway on 127.0.0.1:8080 in front of the bundled NodeService on 127.0.0.1:50051.
        workers: 1
        listeners:
          - address: 127.0.0.1:8080
            cors: { allow_origins: ["*"] }
        routes:
          - match: { service: node.v1.NodeService }
            cluster: nodes
          - match: { service: grpc.health.v1.Health }
            cluster: nodes
          # Server reflection, for grpcurl and other reflection clients.
          - match: { service: grpc.reflection.v1.ServerReflection }
            cluster: nodes
          - match: { service: grpc.reflection.v1alpha.ServerReflection }
            cluster: nodes
        clusters:
          - name: nodes
            endpoints: [127.0.0.1:50051]
        """
}
