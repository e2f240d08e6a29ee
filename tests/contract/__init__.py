"""The SDK-model contract suite: genesys-sim, our tools' requests and the sample events held to
the models of Genesys's Python SDK (docs/simulator.md, "Fidelity: the SDK-model contract suite")."""
