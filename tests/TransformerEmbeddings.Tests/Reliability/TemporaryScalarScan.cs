using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace TransformerEmbeddings.Tests.Reliability;

/// <summary>
/// Finds, in compiled code, every call that hands libtorch a TorchSharp <c>Scalar</c> nobody keeps alive: an implicit
/// conversion of a number at the call site (<c>x * 0.5</c>, <c>clamp_min(1e-9)</c>), or a call of a TorchSharp method
/// that makes one inside (<c>add(Tensor)</c>'s alpha, <c>square()</c>, <c>arange(stop)</c>, the operators with a number).
/// Which TorchSharp methods make one is read from TorchSharp's own IL: those converting a number to a <c>Scalar</c>, and
/// every method that calls one of them. An explicit <c>ToScalar()</c> is the caller's and is not reported (the library
/// keeps those in <c>using</c> locals or static fields).
/// </summary>
internal static class TemporaryScalarScan
{
    private static readonly Dictionary<ushort, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => (ushort)o.Value);

    /// <summary>"file:line (method) → callee" for each such call in <paramref name="assemblies"/>.</summary>
    public static List<string> Find(string torchSharp, params string[] assemblies)
    {
        var torch = Methods(torchSharp).GroupBy(m => m.Key).ToDictionary(g => g.Key, g => g.SelectMany(m => m.Calls).Select(c => c.Callee).ToList());
        var making = new HashSet<string>(torch.Where(m => !Converts(m.Key) && m.Value.Any(Converts)).Select(m => m.Key));
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (method, callees) in torch)
                if (!Converts(method) && !making.Contains(method) && callees.Any(making.Contains)) grew = making.Add(method) | grew;
        }

        var found = new List<string>();
        foreach (var assembly in assemblies)
            foreach (var method in Methods(assembly))
                foreach (var (callee, where) in method.Calls)
                    if (callee.StartsWith("TorchSharp.Scalar::op_Implicit(", StringComparison.Ordinal) || making.Contains(callee))
                        found.Add($"{where} ({method.Key}) → {callee}");
        return found;
    }

    private static bool Converts(string method) =>
        method.StartsWith("TorchSharp.Scalar::op_Implicit(", StringComparison.Ordinal) ||
        method.StartsWith("TorchSharp.ScalarExtensionMethods::ToScalar(", StringComparison.Ordinal) ||
        method.StartsWith("TorchSharp.ScalarExtensionMethods::ToBFloat16Scalar(", StringComparison.Ordinal);

    private sealed record Method(string Key, List<(string Callee, string Where)> Calls);

    private static List<Method> Methods(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var pdbPath = Path.ChangeExtension(path, ".pdb");
        using var pdbProvider = File.Exists(pdbPath) ? MetadataReaderProvider.FromPortablePdbStream(File.OpenRead(pdbPath)) : null;
        var pdb = pdbProvider?.GetMetadataReader();
        var names = new Signatures();
        var result = new List<Method>();
        foreach (var handle in md.MethodDefinitions)
        {
            var definition = md.GetMethodDefinition(handle);
            var calls = new List<(string, string)>();
            if (definition.RelativeVirtualAddress != 0)
            {
                var il = pe.GetMethodBody(definition.RelativeVirtualAddress).GetILBytes()!;
                for (var i = 0; i < il.Length;)
                {
                    var offset = i;
                    ushort value = il[i++];
                    if (value == 0xFE) value = (ushort)(0xFE00 | il[i++]);
                    var op = OpCodesByValue[value];
                    if (op.OperandType == OperandType.InlineMethod) // call, callvirt, newobj, ldftn, ldvirtftn
                        calls.Add((Key(md, names, MetadataTokens.EntityHandle(BitConverter.ToInt32(il, i))), Where(pdb, handle, offset)));
                    i += op.OperandType switch
                    {
                        OperandType.InlineNone => 0,
                        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                        OperandType.InlineVar => 2,
                        OperandType.InlineI8 or OperandType.InlineR => 8,
                        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                        _ => 4,
                    };
                }
            }
            result.Add(new Method(Key(md, names, handle), calls));
        }
        return result;
    }

    private static string Where(MetadataReader? pdb, MethodDefinitionHandle method, int offset)
    {
        if (pdb is null) return $"IL_{offset:x4}";
        var points = pdb.GetMethodDebugInformation(method).GetSequencePoints().Where(p => !p.IsHidden && p.Offset <= offset).ToList();
        if (points.Count == 0) return $"IL_{offset:x4}";
        var last = points[^1];
        return $"{Path.GetFileName(pdb.GetString(pdb.GetDocument(last.Document).Name))}:{last.StartLine}";
    }

    private static string Key(MetadataReader md, Signatures names, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodDefinition:
                var definition = md.GetMethodDefinition((MethodDefinitionHandle)handle);
                var parameters = definition.DecodeSignature(names, md).ParameterTypes;
                return $"{Signatures.Name(md, definition.GetDeclaringType())}::{md.GetString(definition.Name)}({string.Join(",", parameters)})";
            case HandleKind.MemberReference:
                var reference = md.GetMemberReference((MemberReferenceHandle)handle);
                if (reference.GetKind() != MemberReferenceKind.Method) return "";
                var parent = reference.Parent.Kind == HandleKind.TypeSpecification // a generic type's instance: its definition
                    ? md.GetTypeSpecification((TypeSpecificationHandle)reference.Parent).DecodeSignature(names, md).Split('<')[0]
                    : Signatures.Name(md, reference.Parent);
                return $"{parent}::{md.GetString(reference.Name)}({string.Join(",", reference.DecodeMethodSignature(names, md).ParameterTypes)})";
            case HandleKind.MethodSpecification:
                return Key(md, names, md.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
            default:
                return "";
        }
    }

    /// <summary>Type names as both sides of a call spell them, nested types with '+'.</summary>
    private sealed class Signatures : ISignatureTypeProvider<string, MetadataReader>
    {
        public static string Name(MetadataReader md, EntityHandle type)
        {
            if (type.Kind == HandleKind.TypeDefinition)
            {
                var d = md.GetTypeDefinition((TypeDefinitionHandle)type);
                var outer = d.GetDeclaringType();
                return outer.IsNil ? $"{md.GetString(d.Namespace)}.{md.GetString(d.Name)}" : $"{Name(md, outer)}+{md.GetString(d.Name)}";
            }
            if (type.Kind == HandleKind.TypeReference)
            {
                var r = md.GetTypeReference((TypeReferenceHandle)type);
                return r.ResolutionScope.Kind == HandleKind.TypeReference
                    ? $"{Name(md, (TypeReferenceHandle)r.ResolutionScope)}+{md.GetString(r.Name)}"
                    : $"{md.GetString(r.Namespace)}.{md.GetString(r.Name)}";
            }
            return "?";
        }

        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => $"{genericType}<{string.Join(",", typeArguments)}>";
        public string GetGenericMethodParameter(MetadataReader genericContext, int index) => "!!" + index;
        public string GetGenericTypeParameter(MetadataReader genericContext, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => Name(reader, handle);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => Name(reader, handle);
        public string GetTypeFromSpecification(MetadataReader reader, MetadataReader genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);
    }
}
