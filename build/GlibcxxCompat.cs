// Makes TorchSharp's native library load on systems whose libstdc++ predates GCC 13.
//
// libLibTorchSharp.so asks for the symbol version GLIBCXX_3.4.32 for a single symbol,
// std::ios_base_library_init(), which GCC 13 emits as a link-time marker that the dynamic linker
// never has to bind. Marking that version requirement weak (VER_FLG_WEAK in .gnu.version_r) turns
// the loader's fatal "version not found" into nothing at all, and the library loads and computes.
//
// This file is compiled twice: into the Rebased library (REBASED_LIBRARY defined; `rebased info`
// and the tests use it) and by MSBuild's RoslynCodeTaskFactory as the build task that patches the
// copies of the library in build and publish outputs (build/TorchSharpCompat.targets).
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Rebased.Native
{
    /// <summary>ELF symbol-version inspection and the one-flag patch for GLIBCXX_3.4.32.</summary>
    public static class GlibcxxCompat
    {
        public const string RequiredVersion = "GLIBCXX_3.4.32";
        public const string LibraryName = "libLibTorchSharp.so";
        private const ushort VerFlagWeak = 0x2;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>What a library requires of one version: whether it asks at all, and whether weakly.</summary>
        public enum Requirement { Absent, Strong, Weak }

        /// <summary>Names of the versions an ELF shared object defines (.gnu.version_d).</summary>
        public static List<string> DefinedVersions(byte[] elf)
        {
            var names = new List<string>();
            foreach (var (strings, definition) in VersionEntries(elf, ShtGnuVerdef, nextField: 16))
            {
                uint auxOffset = U32(elf, definition + 12);
                names.Add(CString(elf, strings.Offset + U32(elf, definition + auxOffset)));
            }
            return names;
        }

        /// <summary>How the object requires <paramref name="version"/> in .gnu.version_r.</summary>
        public static Requirement RequirementOf(byte[] elf, string version = RequiredVersion)
        {
            long offset = FindRequirementFlags(elf, version);
            if (offset < 0) return Requirement.Absent;
            return (U16(elf, offset) & VerFlagWeak) != 0 ? Requirement.Weak : Requirement.Strong;
        }

        /// <summary>Sets VER_FLG_WEAK on the requirement of <paramref name="version"/>; true when bytes changed.</summary>
        public static bool MarkRequirementWeak(byte[] elf, string version = RequiredVersion)
        {
            long offset = FindRequirementFlags(elf, version);
            if (offset < 0) return false;
            ushort flags = U16(elf, offset);
            if ((flags & VerFlagWeak) != 0) return false;
            flags |= VerFlagWeak;
            elf[offset] = (byte)flags;
            elf[offset + 1] = (byte)(flags >> 8);
            return true;
        }

        /// <summary>
        /// The libstdc++ this process runs on (from /proc/self/maps), else the first one found in the
        /// usual library folders; null when none is found.
        /// </summary>
        public static string? SystemLibstdcxx()
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/self/maps"))
                {
                    int slash = line.IndexOf('/');
                    if (slash >= 0 && line.Contains("libstdc++.so")) return line.Substring(slash).Trim();
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            foreach (var dir in new[] { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib" })
            {
                var candidate = Path.Combine(dir, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        /// <summary>True when the given libstdc++ lacks <see cref="RequiredVersion"/>, i.e. the patch is needed.</summary>
        public static bool NeedsPatch(byte[] libstdcxx) => !DefinedVersions(libstdcxx).Contains(RequiredVersion);

        /// <summary>
        /// Patches <paramref name="path"/> in place when needed; writes a new file (never through a hard link
        /// into a package cache). Returns a one-line description of what happened.
        /// </summary>
        public static string PatchFile(string path, byte[]? libstdcxx)
        {
            if (libstdcxx is not null && !NeedsPatch(libstdcxx)) return $"system libstdc++ has {RequiredVersion}: {path} left as it is";
            var bytes = File.ReadAllBytes(path);
            if (!MarkRequirementWeak(bytes))
                return RequirementOf(bytes) == Requirement.Weak ? $"{path} already patched" : $"{path} does not require {RequiredVersion}";
            var temp = path + ".patching";
            File.WriteAllBytes(temp, bytes);
            File.Delete(path);
            File.Move(temp, path);
            return $"patched {path}: {RequiredVersion} requirement marked weak";
        }

        private readonly struct Section
        {
            public Section(uint type, long offset, long size, uint link, uint info)
            {
                Type = type; Offset = offset; Size = size; Link = link; Info = info;
            }
            public uint Type { get; }
            public long Offset { get; }
            public long Size { get; }
            public uint Link { get; }
            public uint Info { get; }
        }

        private static long FindRequirementFlags(byte[] elf, string version)
        {
            foreach (var (strings, need) in VersionEntries(elf, ShtGnuVerneed, nextField: 12))
            {
                ushort count = U16(elf, need + 2);
                long aux = need + U32(elf, need + 8);
                for (int j = 0; j < count; j++)
                {
                    if (CString(elf, strings.Offset + U32(elf, aux + 8)) == version) return aux + 4;
                    uint nextAux = U32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
            }
            return -1;
        }

        /// <summary>
        /// The entries of every section of <paramref name="type"/> (.gnu.version_d or .gnu.version_r), each with its
        /// section's string table: the section's Info entries, each giving the offset to the next at <paramref name="nextField"/>.
        /// </summary>
        private static IEnumerable<(Section Strings, long Entry)> VersionEntries(byte[] elf, uint type, int nextField)
        {
            foreach (var section in Sections(elf))
            {
                if (section.Type != type) continue;
                var strings = SectionAt(elf, (int)section.Link);
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    yield return (strings, entry);
                    uint next = U32(elf, entry + nextField);
                    if (next == 0) break;
                    entry += next;
                }
            }
        }

        private static IEnumerable<Section> Sections(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A);
            int shnum = U16(elf, 0x3C);
            for (int i = 0; i < shnum; i++) yield return ReadSection(elf, shoff + (long)i * shentsize);
        }

        private static Section SectionAt(byte[] elf, int index)
        {
            long shoff = (long)U64(elf, 0x28);
            return ReadSection(elf, shoff + (long)index * U16(elf, 0x3A));
        }

        private static Section ReadSection(byte[] elf, long at) =>
            new Section(U32(elf, at + 4), (long)U64(elf, at + 24), (long)U64(elf, at + 32), U32(elf, at + 40), U32(elf, at + 44));

        private static ushort U16(byte[] b, long at) => (ushort)(b[at] | b[at + 1] << 8);
        private static uint U32(byte[] b, long at) => (uint)(b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24);
        private static ulong U64(byte[] b, long at) => U32(b, at) | (ulong)U32(b, at + 4) << 32;

        private static string CString(byte[] b, long at)
        {
            long end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
        }
    }

#if !REBASED_LIBRARY
    /// <summary>MSBuild task: patches every libLibTorchSharp.so under <see cref="Directory"/> when the system needs it.</summary>
    public class PatchTorchSharpForOldLibstdcxx : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public string Directory { get; set; } = "";

        public override bool Execute()
        {
            if (!System.IO.Directory.Exists(Directory)) return true;
            var libstdcxx = GlibcxxCompat.SystemLibstdcxx();
            if (libstdcxx is null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, "rebased: no libstdc++ found; TorchSharp left unpatched");
                return true;
            }
            var system = File.ReadAllBytes(libstdcxx);
            if (!GlibcxxCompat.NeedsPatch(system)) return true;
            foreach (var path in System.IO.Directory.EnumerateFiles(Directory, GlibcxxCompat.LibraryName, SearchOption.AllDirectories))
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal, "rebased: " + GlibcxxCompat.PatchFile(path, system));
            return true;
        }
    }
#endif
}
