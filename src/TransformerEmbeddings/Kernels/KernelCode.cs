using System.Reflection;
using System.Runtime.CompilerServices;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// Compiles the kernels ahead of their first call. They are <see cref="MethodImplOptions.AggressiveOptimization"/>
/// (ReadyToRun leaves them to the JIT so that they use this CPU's instructions), so each is jitted on its first call,
/// inside the first forward pass; a model load runs this on a thread-pool thread while libtorch loads and the caller
/// reads the tokenizer and the weights (on the caller's thread it held up a one-line <c>te embed</c> by ~25 ms).
/// Only the bound instruction set's micro-kernels (a type named for another set is skipped: their JIT was a third of
/// this), and a generic kernel for each of its tile sizes (type arguments: the declaring type's structs that meet
/// the constraint, such as <c>SgemmAvx512Narrow.Tile&lt;Four, Two&gt;</c>).
/// </summary>
internal static class KernelCode
{
    private static int compiled;
    private static readonly string[] Sets = [nameof(InstructionSet.Avx512), nameof(InstructionSet.Avx2), nameof(InstructionSet.Scalar)];

    /// <summary>Jits the kernels of <paramref name="isa"/> and the shared ones, once per process.</summary>
    public static void Compile(InstructionSet isa)
    {
        if (Interlocked.Exchange(ref compiled, 1) != 0) return;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (var type in typeof(KernelCode).Assembly.GetTypes())
        {
            if (type.IsGenericTypeDefinition || type.Namespace?.StartsWith(typeof(KernelCode).Namespace!, StringComparison.Ordinal) != true) continue;
            if (ForOtherSet(type.Name, isa)) continue;
            foreach (var method in type.GetMethods(all))
            {
                if (method.IsAbstract || (method.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) == 0) continue;
                foreach (var compiled in Instantiations(type, method))
                {
                    try
                    {
                        RuntimeHelpers.PrepareMethod(compiled.MethodHandle);
                    }
                    catch (Exception e) when (e is ArgumentException or TypeLoadException or NotSupportedException)
                    {
                        // Only a head start: the method is jitted on its first call instead.
                    }
                }
            }
        }
    }

    /// <summary>Whether a type's name says it is another instruction set's kernel (AVX-512 names contain no "Avx2").</summary>
    internal static bool ForOtherSet(string name, InstructionSet isa) =>
        Sets.Any(set => set != isa.ToString() && name.Contains(set, StringComparison.Ordinal));

    /// <summary>The method, or every instantiation of a generic one over its declaring type's structs that meet each constraint.</summary>
    internal static IEnumerable<MethodInfo> Instantiations(Type type, MethodInfo method)
    {
        if (!method.IsGenericMethodDefinition)
        {
            yield return method;
            yield break;
        }
        var nested = type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic).Where(t => t.IsValueType && !t.IsGenericTypeDefinition).ToArray();
        var choices = method.GetGenericArguments()
            .Select(p => nested.Where(t => p.GetGenericParameterConstraints().All(c => c.IsAssignableFrom(t))).ToArray())
            .ToArray();
        if (choices.Any(c => c.Length == 0)) yield break;
        IEnumerable<Type[]> combinations = [[]];
        foreach (var choice in choices) combinations = combinations.SelectMany(prefix => choice.Select(t => (Type[])[.. prefix, t]));
        foreach (var arguments in combinations)
        {
            MethodInfo made;
            try
            {
                made = method.MakeGenericMethod(arguments);
            }
            catch (ArgumentException)
            {
                continue;
            }
            yield return made;
        }
    }
}
