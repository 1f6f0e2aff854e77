// Before building: the native libraries and the generated bindings (see android/README.md):
//   export ANDROID_NDK_HOME=$ANDROID_HOME/ndk/27.2.12479018   # NDK r27c (r28+: 16 KB by default)
//   export CARGO_TARGET_AARCH64_LINUX_ANDROID_RUSTFLAGS="-C link-arg=-Wl,-z,max-page-size=16384"
//   export CARGO_TARGET_X86_64_LINUX_ANDROID_RUSTFLAGS="-C link-arg=-Wl,-z,max-page-size=16384"
//   (cd android && cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -o app/src/main/jniLibs \
//       build --profile mobile -p stressbeat-core)     # cargo-ndk >= 3.0 (custom --profile)
//   scripts/gen-bindings.sh kotlin          # → build/bindings/kotlin (repository root)
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

val generatedBindings = rootProject.file("../build/bindings/kotlin")

android {
    namespace = "com.stressbeat.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "com.stressbeat.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk { abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64") }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    buildFeatures { compose = true }

    sourceSets["main"].apply {
        // src/main/kotlin holds the shell and logic/ (the pure part, also compiled and tested on
        // the JVM by android/bindings-jvm); the uniffi bindings are generated, never committed
        java.srcDirs("src/main/kotlin", generatedBindings)
        jniLibs.srcDirs("src/main/jniLibs")
    }
    lint {
        // NewApi ignored in the generated bindings only (java.lang.ref.Cleaner, guarded at run
        // time): see lint.xml
        lintConfig = file("lint.xml")
    }
    packaging {
        // Uncompressed native libraries, which AGP 8.5.1+ zip-aligns at 16 KB in the APK. That
        // is only the zip offset: 16 KB page devices (Android 15+) also need the ELF LOAD
        // segments aligned to 16 KB, which is a link-time property of libstressbeat_core.so:
        // NDK r28+ links that way by default; with r27 pass -Wl,-z,max-page-size=16384 through
        // CARGO_TARGET_{AARCH64,X86_64}_LINUX_ANDROID_RUSTFLAGS (above, README.md). JNA's
        // libjnidispatch.so comes prebuilt in its AAR: 16 KB aligned from JNA 5.17.0 on
        // (libs.versions.toml; check the APK: README.md).
        jniLibs { useLegacyPackaging = false }
    }
}

kotlin {
    compilerOptions { jvmTarget.set(JvmTarget.JVM_17) }
}

tasks.named("preBuild") {
    doFirst {
        check(generatedBindings.resolve("com/stressbeat/core/stressbeat_core.kt").isFile) {
            "generated bindings missing: run scripts/gen-bindings.sh kotlin at the repository root"
        }
        check(file("src/main/jniLibs/arm64-v8a/libstressbeat_core.so").isFile) {
            "native library missing: run cargo ndk (see android/README.md)"
        }
    }
}

dependencies {
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.service)
    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.foundation)
    implementation(libs.compose.material3)
    implementation(libs.compose.ui.tooling.preview)
    implementation(libs.kotlinx.coroutines.android)
    // the AAR (not the jar) carries JNA's Android natives (libjnidispatch.so); the version is
    // libs.versions.toml's, the same as android/bindings-jvm/pom.xml
    implementation(libs.jna) { artifact { type = "aar" } }
}
