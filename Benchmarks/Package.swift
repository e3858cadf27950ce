// swift-tools-version:6.0
//
// Side-by-side benchmarks of GoRuntime against the Go 1.19 peers in /work/shared/peers/go.
// A separate package (as swift-nio's Benchmarks/ is) so that the root package never builds them and
// they always build in release with their own scratch path: see run.sh.
import PackageDescription

let package = Package(
    name: "GoBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // `name:` pins the package name used below, so the checkout folder's name (the path identity) does not matter.
        .package(name: "gotrace", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "GoBench",
            dependencies: [
                .product(name: "GoRuntime", package: "gotrace"),
            ]
        ),
    ]
)
