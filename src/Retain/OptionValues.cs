namespace Retain;

/// <summary>How an option's value of each type is described when it does not parse, for the one-line error.</summary>
public static class OptionValues
{
    /// <summary>What a value of <paramref name="type"/> looks like: "an integer", "a number", ... (nullable types as their value type).</summary>
    public static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(int) || type == typeof(long) ? "an integer"
            : type == typeof(double) || type == typeof(float) ? "a number"
            : type == typeof(bool) ? "true or false"
            : type == typeof(double[]) ? "numbers separated by commas"
            : type == typeof(int[]) ? "integers separated by commas"
            : type.IsEnum ? string.Join(" or ", Enum.GetNames(type)).ToLowerInvariant()
            : type.Name;
    }

    /// <summary><c>--name: expected an integer (got 'abc')</c>.</summary>
    public static RetainException Invalid(string option, Type type, string text) =>
        new($"{option}: expected {Expected(type)} (got '{text}')");
}
