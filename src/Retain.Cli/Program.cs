// The OpenMP wait policy must be in the environment before torch (and libgomp with it) loads.
Retain.Cli.OpenMpWaitPolicy.ApplyBeforeTorchLoads(args);
Retain.Cli.NativeHeap.KeepFreedBlocks();
return Retain.Cli.RetainApp.Run(args);
