using System.Text;

namespace Rebased.Tests.Native;

/// <summary>The ELF logic on synthetic shared objects built here byte by byte.</summary>
public class GlibcxxCompatTests
{
    [Fact]
    public void LibstdcxxWithoutTheVersionNeedsThePatch()
    {
        var old = SyntheticElf.WithDefinitions("libstdc++.so.6", "GLIBCXX_3.4", "GLIBCXX_3.4.30");
        Assert.Equal(new[] { "libstdc++.so.6", "GLIBCXX_3.4", "GLIBCXX_3.4.30" }, GlibcxxCompat.DefinedVersions(old));
        Assert.True(GlibcxxCompat.NeedsPatch(old));
    }

    [Fact]
    public void LibstdcxxWithTheVersionNeedsNoPatch()
    {
        var recent = SyntheticElf.WithDefinitions("libstdc++.so.6", "GLIBCXX_3.4", "GLIBCXX_3.4.32", "GLIBCXX_3.4.33");
        Assert.False(GlibcxxCompat.NeedsPatch(recent));
    }

    [Fact]
    public void MarkingWeakChangesOnlyTheFlagsOfThatRequirement()
    {
        var lib = SyntheticElf.WithRequirements("libstdc++.so.6", "GLIBCXX_3.4.29", "GLIBCXX_3.4.32", "CXXABI_1.3");
        Assert.Equal(GlibcxxCompat.Requirement.Strong, GlibcxxCompat.RequirementOf(lib));
        var before = (byte[])lib.Clone();

        Assert.True(GlibcxxCompat.MarkRequirementWeak(lib));

        Assert.Equal(GlibcxxCompat.Requirement.Weak, GlibcxxCompat.RequirementOf(lib));
        Assert.Equal(GlibcxxCompat.Requirement.Strong, GlibcxxCompat.RequirementOf(lib, "GLIBCXX_3.4.29"));
        var changed = Enumerable.Range(0, lib.Length).Where(i => lib[i] != before[i]).ToArray();
        Assert.Single(changed);
        Assert.False(GlibcxxCompat.MarkRequirementWeak(lib)); // idempotent
    }

    [Fact]
    public void LibraryWithoutTheRequirementIsLeftAlone()
    {
        var lib = SyntheticElf.WithRequirements("libstdc++.so.6", "GLIBCXX_3.4.29");
        Assert.Equal(GlibcxxCompat.Requirement.Absent, GlibcxxCompat.RequirementOf(lib));
        Assert.False(GlibcxxCompat.MarkRequirementWeak(lib));
    }

    [Fact]
    public void PatchFileSkipsWhenTheSystemHasTheVersion()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, SyntheticElf.WithRequirements("libstdc++.so.6", "GLIBCXX_3.4.32"));
            var recent = SyntheticElf.WithDefinitions("libstdc++.so.6", "GLIBCXX_3.4.32");
            GlibcxxCompat.PatchFile(path, recent);
            Assert.Equal(GlibcxxCompat.Requirement.Strong, GlibcxxCompat.RequirementOf(File.ReadAllBytes(path)));

            var old = SyntheticElf.WithDefinitions("libstdc++.so.6", "GLIBCXX_3.4.30");
            GlibcxxCompat.PatchFile(path, old);
            Assert.Equal(GlibcxxCompat.Requirement.Weak, GlibcxxCompat.RequirementOf(File.ReadAllBytes(path)));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void NonElfInputIsRejected()
    {
        Assert.Throws<InvalidDataException>(() => GlibcxxCompat.DefinedVersions(Encoding.ASCII.GetBytes(new string('x', 100))));
    }

    /// <summary>Minimal ELF64 images with a string table and a version-definition or version-requirement section.</summary>
    private static class SyntheticElf
    {
        private const uint Verdef = 0x6ffffffd, Verneed = 0x6ffffffe, Strtab = 3;

        public static byte[] WithDefinitions(params string[] names)
        {
            var (strtab, offsets) = StringTable(names);
            var section = new List<byte>();
            for (int i = 0; i < names.Length; i++)
            {
                bool last = i == names.Length - 1;
                // Verdef: version, flags, ndx, cnt, hash, aux, next; then one Verdaux: name, next
                section.AddRange(U16(1)); section.AddRange(U16(i == 0 ? 1 : 0)); section.AddRange(U16(i + 1)); section.AddRange(U16(1));
                section.AddRange(U32(0)); section.AddRange(U32(20)); section.AddRange(U32(last ? 0u : 28u));
                section.AddRange(U32(offsets[i])); section.AddRange(U32(0));
            }
            return Image(strtab, section.ToArray(), Verdef, (uint)names.Length);
        }

        public static byte[] WithRequirements(string file, params string[] versions)
        {
            var (strtab, offsets) = StringTable(new[] { file }.Concat(versions).ToArray());
            var section = new List<byte>();
            // Verneed: version, cnt, file, aux, next; then Vernaux entries: hash, flags, other, name, next
            section.AddRange(U16(1)); section.AddRange(U16(versions.Length)); section.AddRange(U32(offsets[0])); section.AddRange(U32(16)); section.AddRange(U32(0));
            for (int i = 0; i < versions.Length; i++)
            {
                section.AddRange(U32(0x1234)); section.AddRange(U16(0)); section.AddRange(U16(i + 2));
                section.AddRange(U32(offsets[i + 1])); section.AddRange(U32(i == versions.Length - 1 ? 0u : 16u));
            }
            return Image(strtab, section.ToArray(), Verneed, 1);
        }

        private static (byte[] Bytes, uint[] Offsets) StringTable(string[] names)
        {
            var bytes = new List<byte> { 0 };
            var offsets = new uint[names.Length];
            for (int i = 0; i < names.Length; i++)
            {
                offsets[i] = (uint)bytes.Count;
                bytes.AddRange(Encoding.ASCII.GetBytes(names[i]));
                bytes.Add(0);
            }
            return (bytes.ToArray(), offsets);
        }

        private static byte[] Image(byte[] strtab, byte[] versions, uint versionType, uint entries)
        {
            long strtabOffset = 64, versionsOffset = strtabOffset + strtab.Length;
            long shoff = (versionsOffset + versions.Length + 7) / 8 * 8;
            var image = new byte[shoff + 3 * 64];
            image[0] = 0x7f; image[1] = (byte)'E'; image[2] = (byte)'L'; image[3] = (byte)'F'; image[4] = 2; image[5] = 1; image[6] = 1;
            Put(image, 0x28, U64((ulong)shoff)); Put(image, 0x3A, U16(64)); Put(image, 0x3C, U16(3));
            strtab.CopyTo(image, strtabOffset);
            versions.CopyTo(image, versionsOffset);
            WriteSection(image, shoff + 64, Strtab, strtabOffset, strtab.Length, 0, 0);
            WriteSection(image, shoff + 128, versionType, versionsOffset, versions.Length, 1, entries);
            return image;
        }

        private static void WriteSection(byte[] image, long at, uint type, long offset, long size, uint link, uint info)
        {
            Put(image, at + 4, U32(type)); Put(image, at + 24, U64((ulong)offset)); Put(image, at + 32, U64((ulong)size));
            Put(image, at + 40, U32(link)); Put(image, at + 44, U32(info));
        }

        private static void Put(byte[] image, long at, byte[] value) => value.CopyTo(image, at);
        private static byte[] U16(int v) => BitConverter.GetBytes((ushort)v);
        private static byte[] U32(uint v) => BitConverter.GetBytes(v);
        private static byte[] U64(ulong v) => BitConverter.GetBytes(v);
    }
}
