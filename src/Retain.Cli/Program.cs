return Retain.Cli.RetainApp.Run(args);
