using Retain.Networks.Backbones;

namespace Retain.Networks;

/// <summary>
/// The backbones by name. A new backbone is one class deriving from <see cref="BackboneArchitecture"/> and one entry in
/// <see cref="BuiltIn"/> (or, from outside the project, a call to <see cref="Register"/>).
/// </summary>
public static class BackboneRegistry
{
    public static readonly BackboneArchitecture Mlp = new MlpBackbone();
    public static readonly BackboneArchitecture AlexNet = new AlexNetBackbone();

    /// <summary>The backbones the project ships, in the order they are listed.</summary>
    private static readonly BackboneArchitecture[] BuiltIn = [Mlp, AlexNet];

    /// <summary>Replaced, never changed, by <see cref="Register"/> and its disposal (as <see cref="Approaches.ApproachRegistry"/>), so reads need no lock.</summary>
    private static BackboneArchitecture[] _registered = BuiltIn;
    private static readonly Lock Guard = new();

    /// <summary>Every registered backbone, in registration order.</summary>
    public static IReadOnlyList<BackboneArchitecture> All => Volatile.Read(ref _registered);

    /// <summary>The backbone named <paramref name="name"/>; an unknown name is an error naming <paramref name="option"/> and the known ones.</summary>
    public static BackboneArchitecture Get(string name, string option = "--network") =>
        All.FirstOrDefault(b => b.Name == name)
        ?? throw new RetainException($"{option}: expected {KnownNames} (got '{name}')");

    /// <summary>The registered names as a phrase: "mlp or alexnet", "mlp, alexnet or resnet".</summary>
    public static string KnownNames
    {
        get
        {
            var names = All.Select(b => b.Name).ToArray();
            return names.Length == 1 ? names[0] : string.Join(", ", names[..^1]) + " or " + names[^1];
        }
    }

    /// <summary>The backbone an experiment uses when <c>--network</c> is not given: the one that claims it, else AlexNet (the seed's default).</summary>
    public static BackboneArchitecture DefaultFor(string experiment) =>
        All.FirstOrDefault(b => b.DefaultFor.Contains(experiment)) ?? AlexNet;

    /// <summary>
    /// Adds a backbone defined outside the project (an extension, a test) until the returned handle is disposed.
    /// Its name must be new.
    /// </summary>
    public static IDisposable Register(BackboneArchitecture backbone)
    {
        lock (Guard)
        {
            if (_registered.Any(b => b.Name == backbone.Name))
                throw new ArgumentException($"a backbone named '{backbone.Name}' is already registered", nameof(backbone));
            Volatile.Write(ref _registered, [.. _registered, backbone]);
        }
        return new Registration(backbone);
    }

    private sealed class Registration(BackboneArchitecture backbone) : IDisposable
    {
        public void Dispose()
        {
            lock (Guard) Volatile.Write(ref _registered, _registered.Where(b => b != backbone).ToArray());
        }
    }
}
