import FuzzDriver
// libFuzzer's driver runs the target; its own main is not linked (SwiftPM names this one).
runFuzzer(fuzzGrammar)
