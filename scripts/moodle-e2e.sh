#!/usr/bin/env bash
# Runs Laurel's Moodle course completion cases against a real Moodle 4.5.6
# (not part of make test; see docs/lms.md "Against a real Moodle 4.5").
#
# It installs Moodle from its source with Debian's PHP, serves it with PHP's
# built-in server on 127.0.0.1:$MOODLE_PORT, and prepares through Moodle's own
# PHP API: web services and the REST protocol on, completion tracking on, a
# course with two completion criteria (self completion and a date), two
# students and a teacher, one student who completed both criteria on a known
# day, a web service user with a role holding the capabilities docs/lms.md
# lists, an external service with Laurel's two functions and its token, and a
# second service without core_completion_get_course_completion_status (the
# limited token). Then it runs TestRealMoodle (moodle/real_test.go), the same
# cases as the emulator tests, against it.
#
# Needs: root (or sudo) for apt-get, a PostgreSQL it can create a database in
# (MOODLE_DB_* below; Laurel's own tests start theirs), git, Go, ~1 GB of disk.
# Moodle's source: MOODLE_SRC, a Moodle 4.5 checkout or export; by default the
# git directory that the public repository paulkennethsq1/hrsq1 (the official
# 4.5.6 release package, imported) was fetched to.
set -euo pipefail

cd "$(dirname "$0")/.."
WORK=${MOODLE_WORK:-/tmp/laurel-moodle-e2e}
MOODLE_PORT=${MOODLE_PORT:-8081}
MOODLE_GIT=${MOODLE_GIT:-/work/.mirror/paulkennethsq1+hrsq1/repo}
MOODLE_SRC=${MOODLE_SRC:-}
MOODLE_DB_HOST=${MOODLE_DB_HOST:-127.0.0.1}
MOODLE_DB_PORT=${MOODLE_DB_PORT:-5432}
MOODLE_DB_NAME=${MOODLE_DB_NAME:-moodle_e2e}
MOODLE_DB_USER=${MOODLE_DB_USER:-postgres}
MOODLE_DB_PASS=${MOODLE_DB_PASS:-postgres}
URL="http://127.0.0.1:${MOODLE_PORT}"

# Moodle 4.5 requires max_input_vars >= 5000 (Debian's default is 1000).
PHP=(php -d max_input_vars=5000)

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

echo "== PHP from Debian"
if [ "$(php -m 2>/dev/null | grep -ci pgsql)" = 0 ]; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends php-cli php-pgsql php-xml php-mbstring php-curl \
    php-zip php-gd php-intl php-soap
fi

echo "== Moodle source in $WORK/moodle"
mkdir -p "$WORK/data"
if [ ! -f "$WORK/moodle/version.php" ]; then
  mkdir -p "$WORK/moodle"
  if [ -n "$MOODLE_SRC" ]; then
    cp -a "$MOODLE_SRC/." "$WORK/moodle/"
  else
    # A fetched snapshot may lack its largest files (a source map or two):
    # export everything else.
    missing=$(git --git-dir="$MOODLE_GIT" ls-tree -r HEAD | awk '$2 == "blob" {print $3}' |
      git --git-dir="$MOODLE_GIT" cat-file --batch-check | awk '$2 == "missing" {print $1}')
    excludes=()
    for sha in $missing; do
      path=$(git --git-dir="$MOODLE_GIT" ls-tree -r HEAD | awk -v s="$sha" '$3 == s {print $4}')
      echo "   (absent from the snapshot, left out: $path)"
      excludes+=(":(exclude)$path")
    done
    git --git-dir="$MOODLE_GIT" archive HEAD -- . "${excludes[@]}" | tar -x -C "$WORK/moodle"
  fi
  # The imported repository carries its author's config.php (MySQL,
  # another host): this installation writes its own.
  rm -f "$WORK/moodle/config.php"
fi
grep "release *= *'4.5" "$WORK/moodle/version.php" >/dev/null || { echo "not a Moodle 4.5 source: $WORK/moodle" >&2; exit 1; }

echo "== install Moodle (database $MOODLE_DB_NAME)"
if [ ! -f "$WORK/moodle/config.php" ]; then
  PGPASSWORD=$MOODLE_DB_PASS psql -h "$MOODLE_DB_HOST" -p "$MOODLE_DB_PORT" -U "$MOODLE_DB_USER" -d postgres \
    -c "CREATE DATABASE $MOODLE_DB_NAME" || true
  "${PHP[@]}" "$WORK/moodle/admin/cli/install.php" --non-interactive --agree-license --lang=en \
    --wwwroot="$URL" --dataroot="$WORK/data" --dbtype=pgsql --dbhost="$MOODLE_DB_HOST" --dbport="$MOODLE_DB_PORT" \
    --dbname="$MOODLE_DB_NAME" --dbuser="$MOODLE_DB_USER" --dbpass="$MOODLE_DB_PASS" \
    --fullname="Laurel E2E" --shortname="laurel-e2e" --adminuser=admin --adminpass='Admin-e2e-1!' \
    --adminemail=admin@example.edu
fi

echo "== serve Moodle at $URL"
"${PHP[@]}" -S "127.0.0.1:${MOODLE_PORT}" -t "$WORK/moodle" >"$WORK/php-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 2

echo "== prepare the course, users, role, services and tokens"
cat >"$WORK/prepare.php" <<'PHP'
<?php
define('CLI_SCRIPT', true);
require($argv[1] . '/config.php');
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->dirroot . '/user/lib.php');
require_once($CFG->dirroot . '/webservice/lib.php');
require_once($CFG->libdir . '/completionlib.php');
require_once($CFG->dirroot . '/completion/criteria/completion_criteria_self.php');
require_once($CFG->dirroot . '/completion/criteria/completion_criteria_date.php');
\core\session\manager::set_user(get_admin());
$CFG->noemailever = true; // new users would be sent mail

set_config('enablewebservices', 1);
set_config('webserviceprotocols', 'rest');
set_config('enablecompletion', 1);

$course = $DB->get_record('course', ['shortname' => 'LE2E']);
if (!$course) {
    $course = create_course((object)['fullname' => 'Laurel E2E', 'shortname' => 'LE2E', 'category' => 1,
        'enablecompletion' => 1]);
}
$data = (object)['id' => $course->id, 'criteria_self' => 1];
if (!$DB->record_exists('course_completion_criteria', ['course' => $course->id])) {
    (new completion_criteria_self())->update_config($data);
    $date = (object)['id' => $course->id, 'criteria_date' => 1, 'criteria_date_value' => time() + 365 * 86400];
    (new completion_criteria_date())->update_config($date);
}

function user_of($username, $first, $last) {
    global $DB, $CFG;
    if ($u = $DB->get_record('user', ['username' => $username])) {
        return $u;
    }
    $id = user_create_user(['username' => $username, 'password' => 'Pass-e2e-1!', 'firstname' => $first,
        'lastname' => $last, 'email' => $username . '@example.edu', 'auth' => 'manual', 'confirmed' => 1,
        'mnethostid' => $CFG->mnet_localhost_id]);
    return $DB->get_record('user', ['id' => $id]);
}
$ada = user_of('ada', 'Ada', 'Lovelace');
$bo = user_of('bo', 'Bo', 'Ibsen');
$tess = user_of('tess', 'Tess', 'Teacher');
$ws = user_of('laurelws', 'Laurel', 'Web service');

$manual = enrol_get_plugin('manual');
$instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual'], '*', MUST_EXIST);
$student = $DB->get_field('role', 'id', ['shortname' => 'student']);
$teacher = $DB->get_field('role', 'id', ['shortname' => 'editingteacher']);
$manual->enrol_user($instance, $ada->id, $student);
$manual->enrol_user($instance, $bo->id, $student);
$manual->enrol_user($instance, $tess->id, $teacher);

// Ada completed both criteria on a known day; Bo none.
$day = mktime(10, 0, 0, 3, 4, 2026);
foreach ($DB->get_records('course_completion_criteria', ['course' => $course->id]) as $crit) {
    $cc = new completion_criteria_completion(['course' => $course->id, 'userid' => $ada->id, 'criteriaid' => $crit->id]);
    $cc->mark_complete($day);
}
$ccompletion = new completion_completion(['userid' => $ada->id, 'course' => $course->id]);
$ccompletion->mark_complete($day);

// The web service user's role, at system level.
$roleid = $DB->get_field('role', 'id', ['shortname' => 'laurelws']);
if (!$roleid) {
    $roleid = create_role('Laurel web service', 'laurelws', 'Reads course completions for Laurel');
    set_role_contextlevels($roleid, [CONTEXT_SYSTEM]);
}
$sys = context_system::instance();
foreach (['webservice/rest:use', 'moodle/course:view', 'moodle/course:viewparticipants', 'moodle/user:viewdetails', 'moodle/course:useremail',
        'report/completion:view', 'moodle/site:accessallgroups'] as $cap) {
    assign_capability($cap, CAP_ALLOW, $roleid, $sys->id, true);
}
role_assign($roleid, $ws->id, $sys->id);

$wsman = new webservice();
function service_with($wsman, $shortname, $functions, $user) {
    global $DB;
    $s = $DB->get_record('external_services', ['shortname' => $shortname]);
    if (!$s) {
        $id = $wsman->add_external_service((object)['name' => $shortname, 'shortname' => $shortname, 'enabled' => 1,
            'restrictedusers' => 1, 'downloadfiles' => 0, 'uploadfiles' => 0]);
        foreach ($functions as $f) {
            $wsman->add_external_function_to_service($f, $id);
        }
        $wsman->add_ws_authorised_user((object)['externalserviceid' => $id, 'userid' => $user->id]);
        $s = $DB->get_record('external_services', ['id' => $id]);
    }
    return \core_external\util::generate_token(EXTERNAL_TOKEN_PERMANENT, $s, $user->id, context_system::instance());
}
$token = service_with($wsman, 'laurel', ['core_enrol_get_enrolled_users', 'core_completion_get_course_completion_status'], $ws);
$limited = service_with($wsman, 'laurel_limited', ['core_enrol_get_enrolled_users'], $ws);

echo "MOODLE_E2E_COURSE={$course->id}\n";
echo "MOODLE_E2E_TOKEN={$token}\n";
echo "MOODLE_E2E_LIMITED_TOKEN={$limited}\n";
echo "MOODLE_E2E_DONE_EMAIL=ada@example.edu\n";
echo "MOODLE_E2E_DONE_DAY=" . gmdate('Y-m-d', $day) . "\n";
PHP
"${PHP[@]}" "$WORK/prepare.php" "$WORK/moodle" >"$WORK/prepare.out" 2>&1 || { cat "$WORK/prepare.out" >&2; exit 1; }
grep '^MOODLE_E2E_' "$WORK/prepare.out" >"$WORK/e2e.env"
cat "$WORK/e2e.env" | sed 's/TOKEN=.*/TOKEN=(set)/'
set -a; . "$WORK/e2e.env"; set +a
export MOODLE_E2E_URL="$URL"

echo "== Laurel's cases against it"
CI=true go test -count=1 -v -run TestRealMoodle ./moodle/
