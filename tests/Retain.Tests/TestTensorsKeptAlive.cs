using System.Reflection;
using System.Runtime.CompilerServices;
using TorchSharp;
using Xunit.Sdk;

[assembly: Retain.Tests.TestTensorsKeptAlive]

namespace Retain.Tests;

/// <summary>
/// Every tensor a test's thread creates outside a dispose scope of its own is held until the test ends, then let go
/// (detached, not disposed: a test may keep one, in a cache, for the next).
/// <para>
/// Why: TorchSharp 0.107 frees a tensor nothing references from its finalizer, and a temporary is unreferenced as soon
/// as the call it is passed to has read its handle (<c>tensor(pixels).reshape(...)</c>). A collection started by
/// another thread of the test host (the test platform's reporting, a test's own workers) can then free it while the
/// call still reads it. On a loaded machine the reading thread can be descheduled mid-call, so this happened: the test
/// host crashed in CI with a fault in <c>alias_with_sizes_and_strides</c> (a view of a freed tensor). Held by a scope,
/// a temporary cannot be finalized while the test runs. The library holds its own (<c>HeldTemporaries</c>,
/// <c>Split.Built</c>); this covers everything else a test's thread runs, above all the tests' own code, which is
/// written for reading rather than with a scope around every expression.
/// </para>
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class TestTensorsKeptAliveAttribute : BeforeAfterTestAttribute
{
    // Tests run one at a time (TestSupport.cs), so one scope at a time.
    private static DisposeScope? _scope;
    private static int _thread;

    /// <summary>An async test may go on on another thread, where a scope opened here is not the current one: none is opened.</summary>
    private static bool IsAsync(MethodInfo method) =>
        method.GetCustomAttribute<AsyncStateMachineAttribute>() is not null || typeof(Task).IsAssignableFrom(method.ReturnType)
        || method.ReturnType == typeof(ValueTask) || method.ReturnType.IsGenericType && method.ReturnType.GetGenericTypeDefinition() == typeof(ValueTask<>);

    public override void Before(MethodInfo methodUnderTest)
    {
        if (IsAsync(methodUnderTest)) return;
        try
        {
            _scope = torch.NewDisposeScope();
        }
        catch (TypeInitializationException)
        {
            return;   // torch cannot load (plain dotnet test without the launcher's runtime): its own tests say so, the others run
        }
        _thread = Environment.CurrentManagedThreadId;
    }

    public override void After(MethodInfo methodUnderTest)
    {
        if (_scope is not { } scope) return;
        _scope = null;
        Retain.Training.HeldTemporaries.Release(scope);
        // A dispose scope belongs to its thread; xunit runs a synchronous test's Before, body and After on one thread.
        if (Environment.CurrentManagedThreadId != _thread)
            throw new InvalidOperationException($"{methodUnderTest.Name}: ended on another thread than it started on, so its tensors were not held");
    }
}
