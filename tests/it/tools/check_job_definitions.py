"""Checks AWS Batch job definitions offline, against botocore's model of the Batch API.

Usage: check_job_definitions.py EXIT_CODES_JSON JOBS_DIR JOB_DEFINITIONS_DIR

Each file must be what `aws batch register-job-definition --cli-input-json` takes: the
parameter shapes, required members and enum values of RegisterJobDefinition. On top, the
rules pgbatch's job definitions keep: Fargate with a valid vCPU and memory pair, the image
pinned by digest, DATABASE_URL from Secrets Manager, the awslogs driver, a timeout, and a
retry strategy that retries exactly the retryable exit codes of `pgbatch exit-codes --json`
and exits on everything else. Every job of JOBS_DIR has a definition. Prints every problem;
exits 1 if there is one.
"""

import json
import pathlib
import sys

import botocore.session
from botocore.validate import ParamValidator

# Fargate's vCPU and memory (MiB) pairs, from the AWS Batch ResourceRequirement docs.
FARGATE = {
    "0.25": [512, 1024, 2048],
    "0.5": list(range(1024, 4097, 1024)),
    "1": list(range(2048, 8193, 1024)),
    "2": list(range(4096, 16385, 1024)),
    "4": list(range(8192, 30721, 1024)),
    "8": list(range(16384, 61441, 4096)),
    "16": list(range(32768, 122881, 8192)),
}


def enum_problems(value, shape, where):
    """Enum values are not checked by botocore's validator: walk the shape and check them."""
    problems = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                problems += enum_problems(value[name], member, f"{where}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            problems += enum_problems(item, shape.member, f"{where}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            problems += enum_problems(item, shape.value, f"{where}.{key}")
    elif shape.type_name == "string" and getattr(shape, "enum", None):
        if value not in shape.enum:
            problems.append(f"{where}: {value!r} is not one of {shape.enum}")
    return problems


def rule_problems(definition, retryable, jobs):
    problems = []
    if definition.get("platformCapabilities") != ["FARGATE"]:
        problems.append("platformCapabilities must be [\"FARGATE\"]")
    if not definition.get("timeout", {}).get("attemptDurationSeconds"):
        problems.append("no timeout.attemptDurationSeconds")
    strategy = definition.get("retryStrategy", {})
    rules = strategy.get("evaluateOnExit", [])
    retried = {r.get("onExitCode") for r in rules if r.get("action") == "RETRY"}
    if retried != {str(code) for code in retryable}:
        problems.append(f"retries exit codes {sorted(retried)}, but the retryable ones are {sorted(retryable)}")
    if any(set(r) - {"action"} != {"onExitCode"} for r in rules if r.get("action") == "RETRY"):
        problems.append("a RETRY rule matches on more than its exit code")
    if not rules or rules[-1] != {"onReason": "*", "action": "EXIT"}:
        problems.append("the last evaluateOnExit rule must exit on everything else ({\"onReason\": \"*\", \"action\": \"EXIT\"})")
    if strategy.get("attempts", 1) < 2:
        problems.append("retryStrategy.attempts must allow a retry")
    container = definition.get("containerProperties", {})
    if "@sha256:" not in container.get("image", ""):
        problems.append("the image is not pinned by digest (repository@sha256:...)")
    resources = {r["type"]: r["value"] for r in container.get("resourceRequirements", [])}
    vcpu, memory = resources.get("VCPU"), resources.get("MEMORY")
    if vcpu not in FARGATE or not memory or int(memory) not in FARGATE[vcpu]:
        problems.append(f"VCPU {vcpu} with MEMORY {memory} is not a Fargate size")
    secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
    if not secrets.get("DATABASE_URL", "").startswith("arn:aws:secretsmanager:"):
        problems.append("DATABASE_URL must come from Secrets Manager (secrets)")
    if container.get("logConfiguration", {}).get("logDriver") != "awslogs":
        problems.append("the log driver must be awslogs")
    if not container.get("jobRoleArn"):
        problems.append("no jobRoleArn (the role that reads S3)")
    command = container.get("command", [])
    for verb in ("run", "load", "finalize"):
        if verb in command:
            job = command[command.index(verb) + 1]
            if job.startswith("Ref::"):
                job = definition.get("parameters", {}).get(job[5:], job)
            if job not in jobs:
                problems.append(f"command names job {job!r}, which jobs/ does not have")
    for arg in command:
        if arg.startswith("Ref::") and arg[5:] not in definition.get("parameters", {}):
            problems.append(f"command uses {arg}, but parameters has no default for it")
    return problems


def main():
    codes = json.loads(pathlib.Path(sys.argv[1]).read_text())
    retryable = codes["retryable"]
    jobs = {p.stem for p in pathlib.Path(sys.argv[2]).glob("*.toml")}
    files = sorted(pathlib.Path(sys.argv[3]).glob("*.json"))
    operation = botocore.session.get_session().get_service_model("batch").operation_model("RegisterJobDefinition")
    problems = []
    covered = set()
    for path in files:
        definition = json.loads(path.read_text())
        report = ParamValidator().validate(definition, operation.input_shape)
        if report.has_errors():
            problems.append(f"{path.name}: {report.generate_report()}")
        problems += [f"{path.name}: {p}" for p in enum_problems(definition, operation.input_shape, "")]
        problems += [f"{path.name}: {p}" for p in rule_problems(definition, retryable, jobs)]
        covered.update(arg for arg in definition.get("containerProperties", {}).get("command", []) if arg in jobs)
    problems += [f"job {job!r} has no job definition" for job in sorted(jobs - covered)]
    if not files:
        problems.append("no job definitions")
    for problem in problems:
        print(problem)
    print(f"{len(files)} job definitions checked against botocore's Batch model")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
