// The seed's first example: printMessage run as a goroutine and from main, interleaving as in Go:
//
//     go printMessage("goroutine")
//     printMessage("main")
import GoRuntime

func printMessage(_ text: String) {
    for index in 0..<5 {
        print("\(text) \(index)")
        Runtime.sleep(for: .milliseconds(10))
    }
}

Runtime.run {
    let done = WaitGroup()
    done.add(1)
    go {
        printMessage("goroutine")
        done.done()
    }
    printMessage("main")
    done.wait()
}
