using System.Reflection;
using System.Runtime.CompilerServices;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// Compiles the kernels ahead of their first call. They are <see cref="MethodImplOptions.AggressiveOptimization"/>
/// (ReadyToRun leaves them to the JIT so that they use this CPU's instructions), so each is jitted on its first call,
/// inside the first forward pass; a model load calls this while libtorch loads, when the thread has nothing else to do.
/// </summary>
internal static class KernelCode
{
    private static int compiled;

    /// <summary>Jits every kernel of this assembly once per process.</summary>
    public static void Compile()
    {
        if (Interlocked.Exchange(ref compiled, 1) != 0) return;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (var type in typeof(KernelCode).Assembly.GetTypes())
        {
            if (type.IsGenericTypeDefinition || type.Namespace?.StartsWith(typeof(KernelCode).Namespace!, StringComparison.Ordinal) != true) continue;
            foreach (var method in type.GetMethods(all))
            {
                if (method.IsGenericMethodDefinition || method.IsAbstract) continue;
                if ((method.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) == 0) continue;
                try
                {
                    RuntimeHelpers.PrepareMethod(method.MethodHandle);
                }
                catch (Exception e) when (e is ArgumentException or TypeLoadException or NotSupportedException)
                {
                    // Only a head start: the method is jitted on its first call instead.
                }
            }
        }
    }
}
